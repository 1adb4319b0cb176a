"""Fuzz log lines: hostile lines through the real engine never raise, and no line costs super-linear work.

Lines are bytes as a log file holds them — random bytes, invalid UTF-8, NUL, lines up to and beyond the 64 KiB
limit, and lines crafted against the shipped groks and helpers (long runs of the characters a pattern repeats,
nested quotes, many `=` for ParseKV, JSON nested thousands deep, syslog/nginx/sshd prefixes with garbage after
them) — cut and decoded by `LineSplitter`, as `synsec replay` and `synsec run` read them, then parsed and poured
by engines built from:
- synsec's shipped content (`scenarios/`);
- a helpers parser: one s00-raw node whose statics call, on the raw line, the text helpers hub content calls
  on log text (ParseKV, UnmarshalJSON, JsonExtract*, Atof, ParseUri, unescapes, B64Decode, XML, Split...);
- the hub's sshd and nginx collections, when the hub is unpacked (`.cache/crowdsec/root`, `$SYNSEC_HUB_ROOT`).
Checked: no exception escapes `Engine.process` (a bad line is counted, never raised), every line read is
counted, and work grows linearly: for crafted lines of n and 4n characters, the Python lines and calls the
engine executes (`sys.settrace` counts, a step count rather than a time) and the peak memory it allocates
(`tracemalloc`) grow at most ~6x, for the whole engine and for each helper alone (a pair whose count Python
cut short at the recursion limit — JSON nested ~1000 deep — is counted as `recursion_limited`, not compared:
the limit bounds that work). Work inside C code (the
grok engines RE2 and Rust regex, json) is not seen by these counts: `tests/unit/test_grok_linear.py` and
`tests/unit/test_parse_kv.py` measure it in instructions; in long mode this suite also runs every shipped and
hub grok under callgrind on crafted lines of n and 4n characters.

CI mode (~20 s): 150 Hypothesis lines (derandomized) and the crafted families after three prefixes.
`SYNSEC_FUZZ_LONG=1` (`make fuzz`): 3,000 random lines and the callgrind measurement. Lines tried are printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from synsec.assembly.build import EngineOptions, build_engine
from synsec.engine.expr.registry import REGISTRY
from synsec.engine.model import Line
from synsec.engine.counters import CounterSet
from synsec.runner.inputs import MAX_LINE_BYTES, LineSplitter
from tests.hubutil import crowdsec_ref, hub_root

REPO = Path(__file__).resolve().parents[2]
LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
EXAMPLES = 3000 if LONG else 150
REF_TS = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
GROWTH = 6.0                     # 4x the input may cost at most this many times the work
TRIED = {"lines": 0, "engine_calls": 0, "helper_calls": 0, "step_pairs": 0}
HUB_COLLECTIONS = ["crowdsecurity/sshd", "crowdsecurity/nginx", "crowdsecurity/base-http-scenarios"]

# Text helpers as hub content calls them on log text, each on the raw line (statics of one s00-raw node).
HELPER_CALLS = {
    "kv": "ParseKV(evt.Line.Raw, evt.Unmarshaled, 'kv')",
    "json": "UnmarshalJSON(evt.Line.Raw, evt.Unmarshaled, 'doc')",
    "extract": "JsonExtract(evt.Line.Raw, 'a.b[0].c')",
    "unescape": "JsonExtractUnescape(evt.Line.Raw, 'a', 'b')",
    "slice": "JsonExtractSlice(evt.Line.Raw, 'a')",
    "object": "JsonExtractObject(evt.Line.Raw, 'a')",
    "atof": "Atof(evt.Line.Raw)",
    "uri": "ParseUri(evt.Line.Raw)",
    "query": "QueryUnescape(evt.Line.Raw)",
    "path": "PathUnescape(evt.Line.Raw)",
    "b64": "B64Decode(evt.Line.Raw)",
    "xml": "XMLGetNodeValue(evt.Line.Raw, '/Event/System[1]/Computer')",
    "xmlattr": "XMLGetAttributeValue(evt.Line.Raw, '/Event/EventData[1]/Data', 'Name')",
    "split": "Split(evt.Line.Raw, '=')",
    "fields": "Fields(evt.Line.Raw)",
    "trim": "TrimSpace(evt.Line.Raw)",
    "ip": "IsIP(evt.Line.Raw)",
    "range": "IpToRange(evt.Line.Raw, '/24')",
    "unix": "ParseUnix(evt.Line.Raw)",
    "match": "Match('a.*b', evt.Line.Raw)",
}

PREFIXES = [
    "",
    "2026-06-01T10:00:00+00:00 bastion sshd[2000]: ",
    "Jun  1 10:00:00 bastion sshd[12]: Failed password for ",
    "Jun  1 10:00:00 bastion sshd[12]: Invalid user ",
    "<34>1 2026-06-01T10:00:00Z host app - - - ",
    '203.0.113.7 - - [01/Jun/2026:10:00:00 +0000] "GET /',
    '203.0.113.7 - alice [01/Jun/2026:10:00:00 +0000] "POST /a?b=c HTTP/1.1" 404 12 "-" "',
    "2026/06/01 10:00:00 [error] 12#12: *1 open() \"/var/www/",
    '{"a": {"b": [{"c": "',
]
SUFFIXES = ["", " from 198.51.100.9 port 40000 ssh2", ' HTTP/1.1" 200 0 "-" "curl/8"', '"}]}}', "\\"]
RUN_CHARS = [" ", "a", "0", ".", ":", "/", "-", '"', "=", "%", "\\", "[", "{", "é", "\t", "\x00"]

# Crafted bodies of about n characters: what a backtracking or per-character loop would choke on.
FAMILIES = {
    "run_a": lambda n: "a" * n,
    "run_space": lambda n: " " * n,
    "run_digits_dots": lambda n: "1." * (n // 2),
    "run_colon_hex": lambda n: "a:" * (n // 2),
    "run_slash": lambda n: "/" * n,
    "words": lambda n: "ab " * (n // 3),
    "quotes": lambda n: '"' * n,
    "nested_quotes": lambda n: '"a\\"' * (n // 4),
    "unclosed_quotes": lambda n: 'k="' * (n // 3),
    "equals": lambda n: "=" * n,
    "kv_pairs": lambda n: "a=1 " * (n // 4),
    "kv_no_equals_tail": lambda n: "a=1 " * (n // 8) + "b" * (n // 2),
    "percent": lambda n: "%4" * (n // 2),
    "json_deep_objects": lambda n: '{"a":' * (n // 5) + "1" + "}" * (n // 5),
    "json_deep_arrays": lambda n: "[" * n,
    "json_wide": lambda n: '{"a": [' + ",".join(["1"] * (n // 2)) + "]}",
    "xml_deep": lambda n: "<a>" * (n // 3),
    "xml_wide": lambda n: "<Event>" + "<System><Computer>x</Computer></System>" * (n // 40) + "</Event>",
    "ipv6ish": lambda n: "::ffff:" * (n // 7),
    "brackets": lambda n: "[a]" * (n // 3),
}


def _helpers_content(root: Path) -> Path:
    """A content dir whose only parser is one s00-raw node calling every helper of HELPER_CALLS."""
    cfg = root / "helpers-cfg"
    (cfg / "parsers" / "s00-raw").mkdir(parents=True)
    (cfg / "scenarios").mkdir()
    (cfg / "postoverflows").mkdir()
    for name in ("patterns", "data", "profiles.yaml"):
        (cfg / name).symlink_to(REPO / "scenarios" / name)
    statics = "".join(f"  - meta: {name}\n    expression: {json.dumps(f'({call}) == nil ? 0 : 1')}\n"
                      for name, call in HELPER_CALLS.items())      # a text result: every static runs
    (cfg / "parsers" / "s00-raw" / "fuzz-helpers.yaml").write_text(
        "name: fuzz/helpers\ndescription: every text helper on the raw line\nfilter: \"1 == 1\"\n"
        "onsuccess: next_stage\nstatics:\n" + statics)
    return cfg


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> dict:
    """{name: engine}: shipped content, the helpers parser, and the hub's sshd/nginx collections if unpacked."""
    opts = dict(reference_year=2026)
    out = {"shipped": build_engine(EngineOptions(**opts))[0]}
    root = tmp_path_factory.mktemp("fuzz-lines")
    out["helpers"] = build_engine(EngineOptions(config_dir=_helpers_content(root), **opts))[0]
    hub = hub_root() / "usr/share/crowdsec/hub"
    if hub.is_dir():
        paths = {"CROWDSEC_HUB": hub, "CROWDSEC_PATTERNS": hub_root() / "etc/crowdsec/patterns",
                 "CROWDSEC_DATA": hub_root() / "usr/share/crowdsec/data"}
        crowdsec_ref().build_config(root / "hub", paths, HUB_COLLECTIONS, "http://127.0.0.1:9/")
        out["hub"] = build_engine(EngineOptions(config_dir=root / "hub" / "cfg", data_dirs=(root / "hub" / "data",),
                                                **opts))[0]
    return out


def _feed(engines: dict, raw: bytes) -> int:
    """Cut and decode `raw` as the runners do, then every line through every engine as syslog and nginx;
    returns the number of lines. Any exception escaping the engine fails the test."""
    splitter = LineSplitter(CounterSet(), MAX_LINE_BYTES)
    texts = splitter.feed(raw, "fuzz")
    last = splitter.flush("fuzz")
    texts += [last] if last is not None else []
    for text in texts:
        assert len(text.encode("utf-8", "surrogatepass")) < MAX_LINE_BYTES
        for engine in engines.values():
            for log_type in ("syslog", "nginx"):
                before = engine.counts.total("lines")
                engine.process(Line(text, "fuzz.log", {"type": log_type}), REF_TS)
                assert engine.counts.total("lines") == before + 1                 # counted, parsed or not
                TRIED["engine_calls"] += 1
    TRIED["lines"] += len(texts)
    return len(texts)


@st.composite
def hostile_lines(draw) -> bytes:
    """One hostile line (sometimes several, or one over the limit): a prefix, a body, a suffix."""
    kind = draw(st.sampled_from(["bytes", "text", "run", "family", "mix", "over_limit"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=600))
    elif kind == "text":
        body = draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    elif kind == "run":
        body = (draw(st.sampled_from(RUN_CHARS)) * draw(st.integers(1, 20_000))).encode()
    elif kind == "family":
        body = FAMILIES[draw(st.sampled_from(sorted(FAMILIES)))](draw(st.integers(1, 20_000))).encode()
    elif kind == "mix":
        parts = draw(st.lists(st.sampled_from(RUN_CHARS + ["a=", '"', "\\\"", "{", "}", "[", "]", "%zz", "\xff"]),
                              min_size=1, max_size=60))
        body = "".join(parts).encode("utf-8", "surrogatepass") * draw(st.integers(1, 300))
    else:
        body = b"a" * (MAX_LINE_BYTES + draw(st.integers(0, 4096)))
    prefix, suffix = draw(st.sampled_from(PREFIXES)), draw(st.sampled_from(SUFFIXES))
    return prefix.encode() + body + suffix.encode()


@settings(max_examples=EXAMPLES, derandomize=not LONG, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(raw=hostile_lines())
def test_hostile_lines_never_raise(engines, raw):
    """Random bytes, invalid UTF-8, NUL, runs, crafted families and over-long lines, after any log prefix:
    every line is counted and none makes the engine raise (over-long ones are skipped by the reader)."""
    _feed(engines, raw)


def _steps(fn, *args) -> tuple[int, int, bool]:
    """(Python call + line events, peak bytes allocated, whether the count was cut short) while fn(*args)
    runs; its exceptions are swallowed (the engine counts them) but counted in TRIED. Python removes a trace
    function that hits the recursion limit (deeply nested JSON does): the count is then cut short."""
    count = [0]

    def tracer(frame, event, arg):
        count[0] += 1
        return tracer

    tracemalloc.start()
    tracemalloc.reset_peak()
    sys.settrace(tracer)
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - a helper's error is the engine's counted failure, not a finding here
        TRIED["helper_errors"] = TRIED.get("helper_errors", 0) + 1
    finally:
        cut = sys.gettrace() is not tracer
        sys.settrace(None)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return count[0], peak, cut


def _growth(fn, make, n: int) -> tuple[float, float, tuple]:
    """(step growth, memory growth, raw numbers) from input make(n) to make(4n), after a warm-up call on
    another input (lazily built programs get built; a memo of results must not make the n call free)."""
    _steps(fn, make(n // 2))
    (s1, m1, cut1), (s4, m4, cut4) = _steps(fn, make(n)), _steps(fn, make(4 * n))
    if cut1 or cut4:                # the recursion limit bounds that work by a constant: nothing to compare
        TRIED["recursion_limited"] = TRIED.get("recursion_limited", 0) + 1
        return 0.0, 0.0, "recursion limit reached"
    TRIED["step_pairs"] += 1
    return s4 / max(s1, 1), m4 / max(m1, 64 * 1024), (s1, s4, m1, m4)


N = 4000


def _check_growth(what: str, rows: list) -> None:
    """Print the five worst (label, step growth, memory growth, raw numbers) rows; fail on any over GROWTH."""
    rows = sorted(rows, key=lambda row: -max(row[1], row[2]))
    print(f"\nfuzz_lines: worst {what} growth (4x input):")
    for label, steps, mem, raw in rows[:5]:
        print(f"  {label}: steps x{steps:.2f} memory x{mem:.2f} {raw}")
    bad = [row for row in rows if row[1] > GROWTH or row[2] > GROWTH]
    assert not bad, bad[:5]


def test_engine_work_is_linear_in_line_length(engines):
    """For every engine, log type, prefix and crafted family, 4x the line costs at most ~6x the Python steps
    and ~6x the peak memory: no quadratic loop or copy anywhere in parsing, enrichment or pouring."""
    worst: list = []
    prefixes = PREFIXES if LONG else [PREFIXES[0], PREFIXES[2], PREFIXES[6]]     # none, sshd, nginx
    for name, engine in engines.items():
        for log_type in ("syslog", "nginx"):
            for prefix in prefixes:
                for family, body in FAMILIES.items():
                    line = lambda k, p=prefix, b=body: Line(p + b(k), "fuzz.log", {"type": log_type})  # noqa: E731
                    steps, mem, raw = _growth(lambda ln, e=engine: e.process(ln, REF_TS), line,
                                              N if LONG else N // 2)
                    worst.append((f"{name} {log_type} {prefix[:20]!r} {family}", steps, mem, raw))
    _check_growth("engine", worst)


def test_helper_work_is_linear_in_input_length():
    """Each text helper alone (ParseKV, UnmarshalJSON, JsonExtract*, Atof, unescapes, XML...) on every
    crafted family: 4x the text costs at most ~6x the Python steps and ~6x the peak memory."""
    worst: list = []
    for name, call in HELPER_CALLS.items():
        helper = REGISTRY[call.split("(")[0]]
        args = call[call.index("(") + 1:-1].split(", ")
        for family, body in FAMILIES.items():
            def run(text, helper=helper, args=args):
                TRIED["helper_calls"] += 1
                values = [text if a == "evt.Line.Raw" else {} if a == "evt.Unmarshaled" else a.strip("'")
                          for a in args]
                return helper.fn(*values)
            steps, mem, raw = _growth(run, body, N)
            worst.append((f"{name} {family}", steps, mem, raw))
    _check_growth("helper", worst)


def test_step_count_sees_a_quadratic_loop():
    """Control: the same measure reports ~16x for a Python loop quadratic in its input (it can fail)."""
    def quadratic(text):
        n = len(text)
        return sum(1 for i in range(0, n, 64) for _ in range(i, n, 64))

    steps, _mem, raw = _growth(quadratic, lambda k: "a" * k, N)
    assert steps > 2 * GROWTH, raw


_GROK_CHILD = """
import functools, json, sys
from synsec.assembly.build import EngineOptions, build_engine
config_dir, data_dir, families, sizes = json.loads(sys.argv[1])
opts = EngineOptions(config_dir=config_dir or None, data_dirs=(data_dir,) if data_dir else (), reference_year=2026)
engine, content = build_engine(opts)
def walk(nodes):
    for node in nodes:
        if node.grok is not None:
            yield node.grok.grok
        yield from walk(node.children)
groks = sorted({id(g): g for stage in engine.parsers.stages for g in walk(stage.nodes)}.values(),
               key=lambda g: g.regex)
print(len(groks), flush=True)
for grok in groks:
    for family in families:
        for k in sizes:
            line = eval(family, {"k": k})
            functools.reduce(lambda _, text: grok.match(text), [line], None)
"""


@pytest.mark.skipif(not LONG, reason="long mode only (SYNSEC_FUZZ_LONG=1): callgrind takes minutes")
@pytest.mark.skipif(not shutil.which("valgrind"), reason="needs valgrind")
def test_every_grok_is_linear_in_instructions(engines, tmp_path):
    """Every shipped (and hub) grok, on crafted lines of n and 4n characters, runs ~4x the instructions."""
    families = ['"a" * k', '" " * k', '"1." * (k // 2)', '"a:" * (k // 2)', "'\"' * k", '"a=" * (k // 2)',
                '"[" * k', '"/" * k', '"%4" * (k // 2)']
    sizes = [2000, 2000, 8000]                                 # warm-up, n, 4n
    configs = [("", "")]
    if "hub" in engines:
        root = tmp_path / "hub"
        paths = {"CROWDSEC_HUB": hub_root() / "usr/share/crowdsec/hub",
                 "CROWDSEC_PATTERNS": hub_root() / "etc/crowdsec/patterns",
                 "CROWDSEC_DATA": hub_root() / "usr/share/crowdsec/data"}
        crowdsec_ref().build_config(root, paths, HUB_COLLECTIONS, "http://127.0.0.1:9/")
        configs.append((str(root / "cfg"), str(root / "data")))
    report, bad = [], []
    for i, (cfg, data) in enumerate(configs):
        out = tmp_path / f"grok{i}.cg"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--toggle-collect=functools_reduce",
               "--dump-after=functools_reduce", sys.executable, "-c", _GROK_CHILD,
               json.dumps([cfg, data, families, sizes])]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "0"})
        assert res.returncode == 0, res.stderr[-2000:]
        from tests.unit.test_grok_linear import _counts
        counts = _counts(out)
        n_groks = int(res.stdout.split()[0])
        assert len(counts) == n_groks * len(families) * len(sizes), (len(counts), n_groks)
        for j in range(0, len(counts), 3):
            growth = counts[j + 2] / max(counts[j + 1], 1)
            report.append(growth)
            if growth > GROWTH:
                bad.append((i, j // 3 // len(families), families[j // 3 % len(families)], counts[j + 1:j + 3]))
        TRIED["step_pairs"] += len(counts) // 3
    print(f"\nfuzz_lines: {len(report)} (grok, family) pairs under callgrind, worst growth x{max(report):.2f}")
    assert not bad, bad[:5]


def test_zz_report_lines_tried():
    """Prints how many lines and calls the suite tried (pytest -s); fails if the fuzzing did not run."""
    print(f"\nfuzz_lines: {TRIED}")
    assert TRIED["lines"] > 0 and TRIED["step_pairs"] > 0
