"""Helpers the current hub calls (ParseKVLax, ParseQuery, ExtractQueryParam, Flatten, FlattenDistinct,
Average/MedianInterval, TimeNow, FileMap, LookupFile), checked against CrowdSec's own documented examples."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from synsec.content.datafiles import DataEntry, map_rows, read_data_file
from synsec.engine.errors import ErrorCollector, ExprError, Where
from synsec.engine.expr import ExprContext, ExprRuntimeError, compile_expr
from synsec.engine.expr.helpers_filemap import FileMap
from synsec.engine.model import Event, Line

W = Where("parsers/x.yaml", 3, "expression")
T0 = datetime(2023, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def run(text: str, evt: Event | None = None, ctx: ExprContext | None = None):
    return compile_expr(text, where=W, ctx=ctx)(evt if evt is not None else Event(Line("")))


@pytest.mark.parametrize("line,expected", [      # CrowdSec's TestParseKvLax
    ("foo=bar", {"foo": "bar"}),
    ("foo=bar bar=foo", {"foo": "bar", "bar": "foo"}),
    ('foo="bar=toto"', {"foo": "bar=toto"}),
    ("foo= bar=toto", {"bar": "toto", "foo": ""}),
    ('foo="" bar=toto', {"bar": "toto", "foo": ""}),
    ("UNIFIhost=Express 7 port=443", {"UNIFIhost": "Express 7", "port": "443"}),
    ('msg="Hello World" host=My Server name=test', {"msg": "Hello World", "host": "My Server", "name": "test"}),
    ('msg="He said \\"Hello\\"" status=ok', {"msg": 'He said "Hello"', "status": "ok"}),
    ('path="C:\\\\Program Files\\\\App" status=running', {"path": "C:\\Program Files\\App", "status": "running"}),
    ("host=server port=443 debug=", {"host": "server", "port": "443", "debug": ""}),
    ("src=192.168.1.100 duser=admin msg=User login successful UNIFIhost=Express 7 UNIFIport=443",
     {"src": "192.168.1.100", "duser": "admin", "msg": "User login successful", "UNIFIhost": "Express 7",
      "UNIFIport": "443"}),
    ("RES=0x00 SYN URGP=0 ID=25029 DF PROTO=TCP", {"RES": "0x00 SYN", "URGP": "0", "ID": "25029 DF", "PROTO": "TCP"}),
    ("error=user_not_found, code_id=e44d80b4-058d-4b45-b2ee-fac3d174e10c, userId=null, type=LOGIN_ERROR",
     {"error": "user_not_found,", "code_id": "e44d80b4-058d-4b45-b2ee-fac3d174e10c,", "userId": "null,",
      "type": "LOGIN_ERROR"}),
    ('msg="say \\"fake=val\\" here" real=value', {"msg": 'say "fake=val" here', "real": "value"}),
    ('path="C:\\\\" next=val', {"path": "C:\\", "next": "val"}),
])
def test_parse_kv_lax(line, expected):
    """ParseKVLax fills evt.Unmarshaled[prefix] as CrowdSec's own test table says (and returns nil)."""
    evt = Event(Line(line))
    assert run("ParseKVLax(evt.Line.Raw, evt.Unmarshaled, 'a') == nil", evt) is True
    assert evt.Unmarshaled["a"] == expected


def test_parse_kv_lax_errors_and_writer_rules():
    """No pair is a runtime error (the map is still created, as CrowdSec); only evt.Unmarshaled may be written."""
    evt = Event(Line("no pairs here"))
    with pytest.raises(ExprRuntimeError, match="invalid input format"):
        run("ParseKVLax(evt.Line.Raw, evt.Unmarshaled, 'a')", evt)
    assert evt.Unmarshaled["a"] == {}
    with pytest.raises(ExprError, match="the target must be evt.Unmarshaled"):
        compile_expr("ParseKVLax('a=b', evt.Meta, 'a')", where=W)


def test_parse_kv_lax_is_linear():
    """Hostile lines (a long key run, thousands of quotes and keys) parse in well under a CPU second (process time: a loaded machine does not fail it)."""
    for line in ("a" * 200_000, 'k="' * 50_000, "k=v " * 50_000, '\\"' * 100_000 + "k=v"):
        evt = Event(Line(line))
        started = time.process_time()
        try:
            run("ParseKVLax(evt.Line.Raw, evt.Unmarshaled, 'a')", evt)
        except ExprRuntimeError:
            pass
        assert time.process_time() - started < 1.0, line[:20]


@pytest.mark.parametrize("query,expected", [          # CrowdSec's TestParseQuery
    ("/foobar/toto?ab=cd&ef=gh", {"/foobar/toto?ab": ["cd"], "ef": ["gh"]}),
    ("foo=bar&foo=baz", {"foo": ["bar", "baz"]}),
    ("foo=", {"foo": [""]}), ("=bar", {"": ["bar"]}), ("", {}),
    ("foo=bar&baz=qux&quux=&=quuz&foo=baz&foo=bar%20baz&foo=bar%3Bbaz&foo=bar%26baz&foo=bar%3Dbaz&foo=bar%3Fbaz",
     {"foo": ["bar", "baz", "bar baz", "bar;baz", "bar&baz", "bar=baz", "bar?baz"], "baz": ["qux"],
      "quux": [""], "": ["quuz"]}),
    ("foo=ba;r&baz=qu;;x&quux=x\\&ww&xx=qu?uz&",
     {"foo": ["ba;r"], "baz": ["qu;;x"], "quux": ["x\\"], "ww": [""], "xx": ["qu?uz"]}),
    ("foo=Ba%42%42&bar=w%2f%2F", {"foo": ["BaBB"], "bar": ["w//"]}),
    ("foo=bar%20baz%2", {"foo": ["bar baz%2"]}), ("foo=bar%xx", {"foo": ["bar%xx"]}),
    ("foo=bar%2x", {"foo": ["bar%2x"]}), ("foo=bar+x", {"foo": ["bar x"]}),
    ("foo=bar&&lol=bur", {"foo": ["bar"], "lol": ["bur"]}),
])
def test_parse_query(query, expected):
    """ParseQuery splits on & only, keeps ; in values and unescapes leniently, as CrowdSec's WAF helper."""
    evt = Event(Line(query))
    assert run("ParseQuery(evt.Line.Raw)", evt) == expected


@pytest.mark.parametrize("uri,param,expected", [        # CrowdSec's TestExtractQueryParam
    ("/foobar/toto?ab=cd&ef=gh", "ab", ["cd"]), ("/foobar?foo=bar&foo=baz", "foo", ["bar", "baz"]),
    ("/foobar/toto?ab=cd;ef=gh", "ab", ["cd;ef=gh"]), ("foo=bar", "foo", []), ("/foobar", "foo", []),
    ("/foobar/toto?ab=cd&ef=gh", "baz", []), ("/foo?a=1&b=2", "a", ["1"]),
])
def test_extract_query_param(uri, param, expected):
    """ExtractQueryParam reads the query string after the first `?` of a raw URI."""
    evt = Event(Line(uri))
    assert run(f"ExtractQueryParam(evt.Line.Raw, '{param}')", evt) == expected


@pytest.mark.parametrize("text,expected", [
    ("Flatten(1, [2, [3, [4]]], 'a', [[]])", [1, 2, 3, 4, "a"]), ("Flatten()", []),
    ("Flatten([{'a': 1}], ['x'])", [{"a": 1}, "x"]),
    ("FlattenDistinct([1, 2], [2, [3, 1]], 'a', ['a'])", [1, 2, 3, "a"]),
    ("FlattenDistinct([1, 1.0, true])", [1, 1.0, True]), ("Distinct(['a', 'a', 'b', 1, 1])", ["a", "b", 1]),
])
def test_flatten(text, expected):
    """Flatten splices nested lists in depth first; FlattenDistinct then drops repeats (by Go's map-key rule)."""
    assert run(text) == expected


def _times(*offsets: float) -> Event:
    evt = Event(Line(""))
    evt.Unmarshaled["t"] = [T0 + timedelta(seconds=s) for s in offsets]
    return evt


@pytest.mark.parametrize("offsets,average,median", [    # CrowdSec's TestAverageInterval / TestMedianInterval
    ((0, 1), 1, 1), ((1, 0), 1, 1), ((0, 2, 6), 3, 3), ((0, 3600, 7200, 10800), 3600, 3600),
    ((0, 2, 5, 11), 11 / 3, 3), ((0, 1, 3, 7, 15), 3.75, 3), ((11, 5, 2, 0), 11 / 3, 3),
])
def test_average_and_median_interval(offsets, average, median):
    """Both sort the times, then average / take the median of the gaps, as durations."""
    evt = _times(*offsets)
    assert run("AverageInterval(evt.Unmarshaled.t)", evt) == timedelta(seconds=average)
    assert run("MedianInterval(evt.Unmarshaled.t)", evt) == timedelta(seconds=median)
    assert run("MedianInterval(evt.Unmarshaled.t) >= duration('1s')", evt) is True


@pytest.mark.parametrize("value,message", [
    ([T0], "need at least two times"), ([], "need at least two times"), ([T0, "x"], "index 1 is not a time"),
    ("x", "expects a slice of times"),
])
def test_interval_errors(value, message):
    """Fewer than two times, or something not a time, is a runtime error (CrowdSec returns an error)."""
    evt = Event(Line(""))
    evt.Unmarshaled["t"] = value
    for name in ("AverageInterval", "MedianInterval"):
        with pytest.raises(ExprRuntimeError, match=message):
            run(f"{name}(evt.Unmarshaled.t)", evt)


def test_median_interval_of_event_times_as_the_hub_writes_it():
    """ssh-time-based-bf's shape: the median gap of the last event times compared with a duration."""
    inner = []
    for minutes in (0, 15, 30, 45, 60):
        e = Event(Line(""))
        e.ts = T0.timestamp() + 60 * minutes
        inner.append(e)
    evt = Event(Line(""))
    evt.Unmarshaled["evts"] = inner
    assert run("MedianInterval(map(evt.Unmarshaled.evts[-4:], {#.Time})) > duration('10m')", evt) is True


def test_time_now_is_the_engine_event_time_in_rfc3339_utc():
    """TimeNow is the newest event time (the pure engine reads no clock), formatted as CrowdSec's RFC 3339 UTC."""
    ctx = ExprContext()
    ctx.advance(1700000000.7)
    now = run("TimeNow()", ctx=ctx)
    assert now == "2023-11-14T22:13:20Z"
    assert datetime.fromisoformat(now.replace("Z", "+00:00")).timestamp() == 1700000000


@pytest.mark.parametrize("text,expected", [
    ("evt.Time.Hour()", 22), ("evt.Time.Minute()", 13), ("evt.Time.Second()", 20), ("evt.Time.Day()", 14),
    ("evt.Time.Year()", 2023), ("evt.Time.YearDay()", 318), ("evt.Time.Unix()", 1700000000),
    ("evt.Time.Weekday().String()", "Tuesday"), ("evt.Time.Weekday() == 2", True),
    ("evt.Time.Month().String()", "November"),
    ("(evt.Time.Hour() >= 18 || evt.Time.Hour() < 6) || evt.Time.Weekday().String() in ['Saturday', 'Sunday']", True),
])
def test_go_time_methods(text, expected):
    """Go's time.Time methods the hub calls (aws-nwo-login: Hour, Weekday().String()) on an event's time."""
    evt = Event(Line(""))
    evt.ts = 1700000000.0            # 2023-11-14T22:13:20Z, a Tuesday
    assert run(text, evt) == expected


@pytest.mark.parametrize("text", ["evt.Time.Hour(1)", "evt.Unmarshaled.x.Hour()", "evt.Time.Weekday().Hour()"])
def test_go_time_methods_only_on_times(text):
    """A time method with arguments, or on something not a time, is a runtime error, never a Python call."""
    evt = Event(Line(""))
    evt.Unmarshaled["x"] = "22:00"
    with pytest.raises(ExprRuntimeError):
        run(text, evt)


MAP = "\n".join([
    '{"pattern": "/admin-console/", "tag": "ConsoleApp", "type": "contains"}',
    '{"pattern": "/cgi-bin/luci", "tag": "OpenWrt", "type": "contains"}',
    '{"pattern": "/wp-admin/", "tag": "WordPress", "type": "contains"}',
    '{"pattern": "/exact/page.php", "tag": "ExactApp", "type": "equals"}',
    "# a comment, then an empty line",
    "",
    '{"pattern": "/wp-content/plugins/[^/]+/readme\\\\.txt", "tag": "WordPress-Plugin", "type": "regex"}',
    '{"pattern": "/(dana|logon/LogonPoint)/", "tag": "VPN", "type": "regex"}',
    '{"pattern": "/overlap", "tag": "ByContains", "type": "contains"}',
    '{"pattern": "/overlap", "tag": "ByEquals", "type": "equals"}',
]) + "\n"


@pytest.mark.parametrize("haystack,tag", [
    ("/x/admin-console/login.jsp", "ConsoleApp"), ("/cgi-bin/luci/admin", "OpenWrt"),
    ("/wp-admin/options.php", "WordPress"), ("/normal/page.html", ""), ("", ""),
    ("/exact/page.php", "ExactApp"), ("/exact/page.php/extra", ""),
    ("/wp-content/plugins/akismet/readme.txt", "WordPress-Plugin"), ("/dana/x", "VPN"),
    ("/logon/LogonPoint/receiver", "VPN"), ("/wp-admin/plugins/akismet/readme.txt", "WordPress"),
    ("/overlap", "ByEquals"), ("/overlap/more", "ByContains"),
    ("/wp-admin/admin-console/", "WordPress"),      # the leftmost contains match wins over an earlier row
])
def test_lookup_file(haystack, tag):
    """LookupFile: equals rows first, then the leftmost contains row, then regex rows; "" when nothing matches."""
    ctx = ExprContext(maps={"tech.json": FileMap(map_rows(MAP, "tech.json"))})
    evt = Event(Line(haystack))
    assert run("LookupFile(evt.Line.Raw, 'tech.json')", evt, ctx) == tag
    assert run("let t = LookupFile(evt.Line.Raw, 'tech.json'); t != '' ? evt.SetMeta('tech', t) : false",
               evt, ctx) is (tag != "")


def test_file_map_rows_and_unknown_files():
    """FileMap lists the rows (comments and empty lines skipped); a literal unknown file name is a load error."""
    ctx = ExprContext(maps={"tech.json": FileMap(map_rows(MAP, "tech.json"))})
    rows = run("FileMap('tech.json')", ctx=ctx)
    assert len(rows) == 8 and rows[0] == {"pattern": "/admin-console/", "tag": "ConsoleApp", "type": "contains"}
    for text in ("FileMap('nope.json')", "LookupFile('x', 'nope.json')"):
        with pytest.raises(ExprError, match="'nope.json' \\(type map\\) is not loaded"):
            compile_expr(text, where=W, ctx=ctx)


@pytest.mark.parametrize("line,where,message", [
    ("not json", "(line)", "not a JSON line"), ('["a"]', "(line)", "JSON object of strings"),
    ('{"pattern": "x", "tag": 1, "type": "equals"}', "(line)", "JSON object of strings"),
    ('{"tag": "t", "type": "equals"}', "pattern", "missing mandatory 'pattern'"),
    ('{"pattern": "x", "type": "equals"}', "tag", "missing mandatory 'tag'"),
    ('{"pattern": "x", "tag": "t"}', "type", "missing mandatory 'type'"),
    ('{"pattern": "x", "tag": "t", "type": "foobar"}', "type", "unknown entry type 'foobar'"),
    ('{"pattern": "(", "tag": "t", "type": "regex"}', "pattern", "invalid regexp"),
    ('{"pattern": "\\ud800", "tag": "t", "type": "contains"}', "(line)", "lone UTF-16 surrogate"),
])
def test_bad_map_file_names_the_yaml_entry_and_the_data_line(tmp_path, line, where, message):
    """A bad map row is a load error at the data entry's YAML place, naming the data file's line and field."""
    (tmp_path / "m.json").write_text('{"pattern": "a", "tag": "A", "type": "equals"}\n' + line + "\n")
    errors, ctx = ErrorCollector(), ExprContext()
    read_data_file(DataEntry("m.json", "map", Where("s.yaml", 7, "data[0].dest_file")), [tmp_path], ctx, errors)
    (err,) = errors.errors
    text = str(err)
    assert text.startswith(f"s.yaml:7: data[0].dest_file: {tmp_path / 'm.json'}:2: {where}: ") and message in text
    assert "m.json" not in ctx.maps


TECH_SCENARIO = """\
type: trigger
name: test/technology-probing
description: "probes of known technology paths, tagged from a map data file"
filter: |
  if (evt.Meta.service == 'http' and evt.Meta.http_status in ['404', '403'])
    {
      let tech = LookupFile(evt.Meta.http_path, "tech.json");
      tech != "" ? evt.SetMeta("target_technology", tech) : false
    } else { false }
groupby: evt.Meta.source_ip
blackhole: 1m
data:
  - dest_file: tech.json
    type: map
labels:
  remediation: false
"""


def test_scenario_with_if_let_and_a_map_data_file_loads_and_triggers(tmp_path):
    """The current hub's technology-probing shape (if/else, let, LookupFile on a map file) loads and triggers."""
    from synsec.content.loader import load_content
    from synsec.engine.buckets import BucketManager

    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "tech.yaml").write_text(TECH_SCENARIO)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tech.json").write_text(MAP)
    content = load_content(tmp_path)
    manager = BucketManager(content.scenarios)
    alerts = []
    for i, (path, status) in enumerate([("/wp-admin/x.php", "404"), ("/index.html", "404"),
                                        ("/wp-admin/y.php", "200")]):
        e = Event(Line(""))
        e.ts = 1000.0 + i
        e.Meta.update(service="http", http_status=status, http_path=path, source_ip=f"192.0.2.{i + 1}")
        alerts += manager.process(e)
    assert [a.Source.Value for a in alerts] == ["192.0.2.1"]


STASH_PARSER = """\
name: test/stash
filter: "1 == 1"
onsuccess: next_stage
nodes:
  - grok:
      pattern: '^set %{WORD:k} %{WORD:v}$'
      apply_on: Line.Raw
    stash:
      - name: c
        key: evt.Parsed.k
        value: evt.Parsed.v
        ttl: 5s
        size: 10
  - grok:
      pattern: '^get %{WORD:k}$'
      apply_on: Line.Raw
    statics:
      - meta: got
        expression: GetFromStash('c', evt.Parsed.k)
"""


def test_stash_ttl_counts_from_the_time_of_the_line_that_wrote_it(tmp_path):
    """A stash entry lives `ttl` after its own line's time, even when the log jumps years forward on that line
    (the hub's charon-ipsec test): the parser writes it before the line's time is known."""
    from synsec.assembly.build import EngineOptions, build_engine

    (tmp_path / "parsers" / "s01-parse").mkdir(parents=True)
    (tmp_path / "parsers" / "s01-parse" / "stash.yaml").write_text(STASH_PARSER)
    engine, _ = build_engine(EngineOptions(config_dir=tmp_path))
    got = []
    for raw, ts in [("set a x", 1000.0), ("set b y", 1e9), ("get b", 1e9 + 1), ("get a", 1e9 + 2),
                    ("get a", 1e9 + 7), ("get b", 1e9 + 8)]:
        evt = engine.parse(Line(raw, "x.log", {"type": "t"}, Time=ts))
        engine.pour(evt)
        got.append(evt.Meta.get("got", ""))
    assert got[2:] == ["y", "", "", ""]      # b is read 1 s after its line; gone 5 s after (a: long gone)
