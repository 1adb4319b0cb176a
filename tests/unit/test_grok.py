"""Grok: pattern files, expansion, grokky's field rules, RE2 semantics, errors, and the shipped patterns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from synsec.content.patterns import DEFAULT_PATTERNS_DIR, load_patterns, pattern_files
from synsec.engine.errors import LoadError, LoadErrors, Where
from synsec.engine.grok import Grok, PatternLibrary


def lib_of(text: str, path: str = "test-patterns") -> PatternLibrary:
    return PatternLibrary.from_texts([(path, text)])


@pytest.fixture(scope="module")
def shipped() -> PatternLibrary:
    return load_patterns()


BASIC = """\
# a comment, then a blank line

WORD \\b\\w+\\b
NUM [0-9]+
PAIR %{WORD:key}=%{NUM:value}
"""


# --- loading -----------------------------------------------------------------------------------------------


def test_file_format_comments_blank_lines_and_names():
    """`NAME REGEX` lines define patterns; `#` comments and blank lines are skipped."""
    lib = lib_of(BASIC)
    assert lib.names() == ["NUM", "PAIR", "WORD"]
    assert lib.definition("PAIR").regex == "%{WORD:key}=%{NUM:value}"
    assert lib.definition("PAIR").where == Where("test-patterns", 5)


def test_regex_keeps_inner_and_trailing_spaces_like_grokky():
    """Everything after the separating whitespace is the regex, trailing spaces included (grokky's `(.+)$`)."""
    lib = lib_of("SP a  b \n")
    assert lib.definition("SP").regex == "a  b "


def test_bad_lines_are_all_reported_with_path_and_line():
    """Every malformed or duplicate line is reported at once, each naming path:line: field (the pattern)."""
    with pytest.raises(LoadErrors) as info:
        lib_of("A x\nnot-a-name y\nA z\n", path="p/file")
    text = str(info.value)
    assert "p/file:2: (line): expected 'NAME REGEX'" in text
    assert "p/file:3: A: grok pattern A already defined at p/file:1" in text
    assert len(info.value.errors) == 2


def test_add_copy_names_are_independent():
    """`copy()` gives a library whose additions do not leak back into the original."""
    lib = lib_of(BASIC)
    other = lib.copy()
    other.add("EXTRA", "x")
    assert "EXTRA" in other.names() and "EXTRA" not in lib.names()


def test_content_loader_reads_shipped_directory_sorted(tmp_path: Path):
    """The content loader reads pattern files recursively in sorted order and skips hidden files."""
    (tmp_path / "b").write_text("B %{A}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a").write_text("A x+\n")
    (tmp_path / ".hidden").write_text("garbage line\n")
    assert [p.name for p in pattern_files(tmp_path)] == ["b", "a"]
    assert load_patterns(tmp_path).compile_named("B").match("yxxz") == {}


def test_shipped_patterns_are_crowdsec_files_plus_grokky_base(shipped: PatternLibrary):
    """The shipped directory holds CrowdSec's files and the grokky base, and every pattern compiles."""
    names = {p.name for p in pattern_files(DEFAULT_PATTERNS_DIR)}
    assert {"ssh", "nginx", "linux-syslog", "grokky_base"} <= names
    assert {"IP", "SYSLOGLINE", "NGINXACCESS", "SSHD_FAIL"} <= set(shipped.names())
    assert shipped.check() == []


# --- expansion and fields -------------------------------------------------------------------------------------


def test_expansion_is_one_regex_with_nested_patterns():
    """Nested references expand recursively into a single regex text."""
    lib = lib_of("A a%{B}\nB b%{C}\nC c\n")
    grok = lib.compile("^%{A:x}$")
    assert "%{" not in grok.regex
    assert grok.match("abc") == {"x": "abc"}
    assert grok.match("ab") is None


def test_type_suffix_is_ignored_and_value_stays_a_string():
    """`%{NAME:field:type}` captures like `%{NAME:field}`; the value stays a string."""
    grok = lib_of(BASIC).compile("n=%{NUM:n:int}")
    assert grok.match("n=42") == {"n": "42"}


def test_nested_fields_surface():
    """Fields defined inside a referenced pattern are fields of the grok that references it."""
    grok = lib_of(BASIC).compile("^%{PAIR}$")
    assert grok.fields == ("key", "value")
    assert grok.match("a=1") == {"key": "a", "value": "1"}


def test_own_names_beat_nested_names():
    """A field written in the pattern itself wins over the same name defined in a nested pattern."""
    lib = lib_of("INNER %{WORD:value}-x\nWORD \\w+\n")
    grok = lib.compile("^%{INNER} %{WORD:value}$")
    assert grok.match("inner-x outer") == {"value": "outer"}
    # the own name wins even when written *before* the nested one
    grok = lib.compile("^%{WORD:value} %{INNER}$")
    assert grok.match("outer inner-x") == {"value": "outer"}


def test_last_duplicate_wins_even_when_it_did_not_match():
    """A name bound twice reads the last binding; a non-participating last binding gives "" (grokky)."""
    lib = lib_of("WORD [a-z]+\nNUM [0-9]+\n")
    grok = lib.compile("^(?:%{WORD:v}|%{NUM:v})$")
    assert grok.match("123") == {"v": "123"}
    assert grok.match("abc") == {"v": ""}


def test_later_nested_duplicate_beats_earlier_nested():
    """Between two nested patterns defining the same name, the later reference wins."""
    lib = lib_of("A (?:%{W:v})?a\nB %{W:v}b\nW [a-z]\n")
    grok = lib.compile("^%{A} %{B}$")
    assert grok.match("xa yb") == {"v": "y"}


def test_unmatched_optional_field_is_empty_string():
    """A field inside an optional part that did not match is "" (not missing, not None)."""
    grok = lib_of(BASIC).compile("^%{WORD:w}(?: %{NUM:n})?$")
    assert grok.match("abc") == {"w": "abc", "n": ""}
    assert grok.match("abc 7") == {"w": "abc", "n": "7"}


def test_raw_groups_are_not_fields_and_do_not_capture():
    """Raw `(..)`, `(?P<n>..)`, `(?<n>..)` match but add no field and no RE2 capture (fields: %{X:f} only)."""
    grok = lib_of(BASIC).compile("(?P<a>x)(?<b>y)(z|w)%{NUM:n}")
    assert grok.fields == ("n",)
    assert grok.match("xyw5") == {"n": "5"}
    assert grok._program.NumberOfCapturingGroups() == 1


def test_pattern_syntax_layers_over_library_for_one_compile():
    """A node's pattern_syntax shadows library names in that compile only, and unknown names resolve there."""
    lib = lib_of(BASIC)
    local = lib.compile("^%{WORD:w}$", syntax={"WORD": "[0-9]+"})
    assert local.match("123") == {"w": "123"} and local.match("abc") is None
    assert lib.compile("^%{WORD:w}$").match("abc") == {"w": "abc"}
    assert lib.compile("%{MYCAP:c}!", syntax={"MYCAP": "[a-c]+"}).match("zzab!") == {"c": "ab"}


def test_compile_is_cached_per_pattern_and_syntax():
    """The same (pattern, pattern_syntax) compiles once; different syntax gives a different Grok."""
    lib = lib_of(BASIC)
    a = lib.compile("%{PAIR}", syntax={"X": "y"})
    assert lib.compile("%{PAIR}", syntax={"X": "y"}) is a
    assert lib.compile("%{PAIR}") is not a
    assert isinstance(a, Grok)


def test_compile_named():
    """`compile_named` compiles a library pattern by name, as `grok: {name: SSHD_FAIL}`."""
    grok = lib_of(BASIC).compile_named("PAIR")
    assert grok.match("k=2") == {"key": "k", "value": "2"}


# --- RE2 / Go semantics ------------------------------------------------------------------------------------


def test_perl_classes_are_ascii_like_go():
    """`\\d`, `\\w` and `\\b` are ASCII-only, as in Go's regexp (so 'é' is not a word character)."""
    lib = PatternLibrary()
    assert lib.compile(r"^\w+$").match("café") is None
    assert lib.compile(r"^\d+$").match("٣") is None  # Arabic-Indic digit three
    assert lib.compile(r"(?P<x>\w+)").match("é") is None


def test_case_insensitive_flag_is_scoped():
    """`(?i:...)` applies inside its group only; `(?i)` to the rest of its group."""
    lib = lib_of("W [a-z]+\n")
    grok = lib.compile("^(?i:abc)%{W:w}$")
    assert grok.match("ABCdef") == {"w": "def"}
    assert grok.match("ABCDEF") is None
    assert lib.compile("^(?:(?i)abc)def$").match("ABCDEF") is None
    assert lib.compile("^(?i)abc%{W:w}$").match("ABCDEF") == {"w": "DEF"}


def test_lazy_quantifiers_keep_go_meaning():
    """`.*?` (grok DATA) is lazy: the shortest prefix that still lets the rest match."""
    lib = lib_of("DATA .*?\nGREEDYDATA .*\n")
    assert lib.compile("^%{DATA:a},%{GREEDYDATA:b}$").match("x,y,z") == {"a": "x", "b": "y,z"}


def test_dollar_is_end_of_text_not_before_final_newline():
    """`$` matches only at the very end of the text (Go, RE2), unlike Python's re before a final \\n."""
    assert PatternLibrary().compile("^a$").match("a\n") is None


def test_unicode_lines_give_character_slices():
    """Byte offsets from RE2 become the right character strings on non-ASCII lines."""
    grok = lib_of("NOTSPACE \\S+\n").compile("user=%{NOTSPACE:user} host=%{NOTSPACE:host}")
    line = "😀 überlog user=jörg-Ω host=café.example 漢字"
    assert grok.match(line) == {"user": "jörg-Ω", "host": "café.example"}


def test_lone_surrogates_do_not_crash():
    """A line holding a lone surrogate (surrogateescape-decoded bytes) matches without raising."""
    grok = lib_of("NOTSPACE \\S+\n").compile("u=%{NOTSPACE:u}")
    out = grok.match("u=ab\udcffcd end")
    assert out is not None and out["u"].startswith("ab")


# --- load errors ------------------------------------------------------------------------------------------


def test_unknown_pattern_is_load_error_at_callers_place():
    """An unknown name is a LoadError at the caller's path:line:field."""
    with pytest.raises(LoadError) as info:
        lib_of(BASIC).compile("%{NOPE:x}", where=Where("parsers/s01/x.yaml", 12, "grok.pattern"))
    assert str(info.value) == "parsers/s01/x.yaml:12: grok.pattern: unknown grok pattern %{NOPE}"


def test_unknown_name_inside_library_pattern_names_its_definition():
    """An unknown name deep in the library says which pattern, defined at which path:line, refers to it."""
    lib = lib_of("OK x\nBAD %{MISSING}\n", path="patterns/custom")
    with pytest.raises(LoadError) as info:
        lib.compile("%{BAD}", where=Where("node.yaml", 3, "grok.pattern"))
    assert "unknown grok pattern %{MISSING} in %{BAD} (patterns/custom:2)" in str(info.value)
    assert [str(e) for e in lib.check()] == [
        "patterns/custom:2: unknown grok pattern %{MISSING} in %{BAD} (patterns/custom:2)"
    ]


def test_recursion_loop_is_load_error():
    """A reference cycle is detected and reported with the loop, instead of recursing forever."""
    lib = lib_of("A x%{B}\nB y%{C}\nC %{A}\n")
    with pytest.raises(LoadError, match=r"recursive grok pattern: A -> B -> C -> A"):
        lib.compile("%{A}")
    with pytest.raises(LoadError, match="recursive grok pattern: S -> S"):
        PatternLibrary().compile("%{S}", syntax={"S": "a%{S}"})


def test_regex_rejected_by_re2_is_load_error():
    """Syntax RE2 refuses (here a backreference) is a load error naming the place."""
    with pytest.raises(LoadError, match=r"^n.yaml:4: grok.pattern: grok regex does not compile under RE2"):
        PatternLibrary().compile(r"(a)\1", where=Where("n.yaml", 4, "grok.pattern"))


def test_malformed_reference_and_empty_pattern_are_load_errors():
    """A `%{...}` that is not a valid reference, and an empty pattern, are load errors."""
    with pytest.raises(LoadError, match="malformed grok reference"):
        lib_of(BASIC).compile("%{WORD:two words}")
    with pytest.raises(LoadError, match="empty grok pattern"):
        lib_of(BASIC).compile("")


# --- the shipped patterns on realistic lines ------------------------------------------------------------------

SYSLOG = "Mar  3 07:12:45 web-01 sshd[20245]: Failed password for root from 203.0.113.7 port 51672 ssh2"
NGINX = (
    '198.51.100.23 - - [04/Mar/2024:10:15:32 +0100] "GET /wp-login.php?redirect_to=%2F HTTP/1.1" 404 153 '
    '"https://example.org/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"'
)


def test_syslogline_on_bsd_syslog(shipped: PatternLibrary):
    """SYSLOGLINE splits a BSD syslog line into timestamp, host, program, pid and message."""
    out = shipped.compile_named("SYSLOGLINE").match(SYSLOG)
    assert out is not None
    assert (out["timestamp"], out["logsource"], out["program"], out["pid"]) == (
        "Mar  3 07:12:45", "web-01", "sshd", "20245")
    assert out["message"] == "Failed password for root from 203.0.113.7 port 51672 ssh2"
    assert out["timestamp8601"] == "" and out["facility"] == ""


def test_syslogline_on_iso8601_timestamp(shipped: PatternLibrary):
    """SYSLOGLINE takes an ISO8601 timestamp in its other branch."""
    out = shipped.compile_named("SYSLOGLINE").match("2024-03-04T10:15:32.123+01:00 fw kernel: DROP IN=eth0")
    assert out is not None
    assert (out["timestamp8601"], out["timestamp"], out["program"], out["message"]) == (
        "2024-03-04T10:15:32.123+01:00", "", "kernel", "DROP IN=eth0")


def test_sshd_fail_and_invalid_user(shipped: PatternLibrary):
    """SSHD_FAIL and SSHD_USER_FAIL extract the user, client IP (v4 and v6) and port."""
    fail = shipped.compile_named("SSHD_FAIL")
    assert fail.match("Failed password for root from 203.0.113.7 port 51672 ssh2") == {
        "sshd_auth_type": "password", "sshd_invalid_user": "root", "sshd_client_ip": "203.0.113.7",
        "sshd_port": "51672", "sshd_protocol": "ssh2"}
    out = fail.match("Failed publickey for git from 2001:db8::42 port 2222 ssh2")
    assert out is not None and out["sshd_client_ip"] == "2001:db8::42"
    user = shipped.compile_named("SSHD_USER_FAIL")
    out = user.match("Failed password for invalid user oracle from 198.51.100.9 port 40122 ssh2")
    assert out is not None and out["sshd_invalid_user"] == "oracle" and out["sshd_client_ip"] == "198.51.100.9"
    assert fail.match("Accepted password for root from 203.0.113.7 port 51672 ssh2") is None


def test_nginx_access(shipped: PatternLibrary):
    """NGINXACCESS extracts the combined-log fields from a realistic access line."""
    out = shipped.compile_named("NGINXACCESS").match(NGINX)
    assert out == {
        "remote_addr": "198.51.100.23", "remote_user": "-", "time_local": "04/Mar/2024:10:15:32 +0100",
        "method": "GET", "request": "/wp-login.php?redirect_to=%2F", "http_version": "1.1",
        "status": "404", "body_bytes_sent": "153", "http_referer": "https://example.org/",
        "http_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"}


NGINX_ACCESS_HUB = (  # hub parsers/s01-parse/crowdsecurity/nginx-logs.yaml, verbatim
    '(%{IPORHOST:target_fqdn} )?%{IPORHOST:remote_addr} - (%{NGUSER:remote_user})? \\[%{HTTPDATE:time_local}\\] '
    '"%{WORD:verb} %{DATA:request} HTTP/%{NUMBER:http_version}" %{NUMBER:status} %{NUMBER:body_bytes_sent} '
    '"%{NOTDQUOTE:http_referer}" "%{NOTDQUOTE:http_user_agent}"( %{NUMBER:request_length} %{NUMBER:request_time} '
    '\\[%{DATA:proxy_upstream_name}\\] \\[%{DATA:proxy_alternative_upstream_name}\\])?'
)
NGINX_ERROR_HUB = (
    '(%{IPORHOST:target_fqdn} )?%{NGINXERRTIME:time} \\[%{LOGLEVEL:loglevel}\\] %{NONNEGINT:pid}#%{NONNEGINT:tid}: '
    '(\\*%{NONNEGINT:cid} )?%{GREEDYDATA:message}, client: %{IPORHOST:remote_addr}, server: %{DATA:target_fqdn}, '
    'request: "%{WORD:verb} ([^/]+)?%{URIPATHPARAM:request}( HTTP/%{NUMBER:http_version})?", '
    'host: "%{IPORHOST}(:%{NONNEGINT})?"'
)


def test_hub_nginx_access_pattern(shipped: PatternLibrary):
    """The hub nginx access pattern parses a combined-log line; its absent optional parts are ""."""
    out = shipped.compile(NGINX_ACCESS_HUB).match(NGINX)
    assert out is not None
    assert (out["remote_addr"], out["verb"], out["request"], out["status"]) == (
        "198.51.100.23", "GET", "/wp-login.php?redirect_to=%2F", "404")
    assert (out["target_fqdn"], out["remote_user"], out["request_length"]) == ("", "-", "")


def test_hub_nginx_error_pattern_duplicate_name_takes_last(shipped: PatternLibrary):
    """In the hub nginx error pattern `target_fqdn` appears twice: the later `server:` value is the field."""
    line = ('2024/03/04 10:15:32 [error] 1234#1234: *56 open() "/usr/share/nginx/html/.env" failed '
            '(2: No such file or directory), client: 203.0.113.7, server: shop.example.com, '
            'request: "GET /.env HTTP/1.1", host: "shop.example.com"')
    out = shipped.compile(NGINX_ERROR_HUB).match(line)
    assert out is not None
    assert (out["target_fqdn"], out["remote_addr"], out["request"], out["cid"]) == (
        "shop.example.com", "203.0.113.7", "/.env", "56")
    assert out["time"] == "2024/03/04 10:15:32" and out["loglevel"] == "error"


def test_prefilter_of_shipped_patterns(shipped: PatternLibrary):
    """Patterns with a fixed word get a prefilter literal; ones that start with an alternation may not."""
    assert shipped.compile_named("NGINXACCESS").prefilter == " HTTP/"
    assert shipped.compile_named("SSHD_FAIL").prefilter == "Failed "
    assert shipped.compile_named("SYSLOGLINE").prefilter is None


# --- purity ----------------------------------------------------------------------------------------------------


def test_grok_package_opens_no_file_and_imports_no_io():
    """synsec/engine/grok opens no file, reads no clock and imports no I/O module."""
    banned_mod = {"faust", "kafka", "clickhouse_driver", "asyncio", "socket", "os", "pathlib", "time", "io"}
    root = Path(__file__).resolve().parents[2] / "synsec" / "engine" / "grok"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & banned_mod, path
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module.split(".")[0] not in banned_mod, path
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", path


def test_memo_gives_the_matchers_answer_in_a_fresh_dict():
    """A text seen before gets the same fields (or None) as matching it again, in a dict of its own."""
    grok = lib_of(BASIC).compile("^%{PAIR}$")
    first = grok.match("a=1")
    first["key"] = "changed"
    assert grok.match("a=1") == {"key": "a", "value": "1"} == grok._match("a=1")
    assert grok.match("nope") is None and grok.match("nope") is None
    long = "b=" + "2" * 300                     # past the memo's text limit: matched every time
    assert grok.match(long) == {"key": "b", "value": "2" * 300}


def test_memo_is_dropped_when_texts_do_not_repeat():
    """A grok fed texts that never repeat stops memoising after its trial; one whose texts repeat keeps it."""
    from synsec.engine.grok import matcher

    unique = lib_of(BASIC).compile("^%{PAIR}$")
    for i in range(matcher._TRIAL):
        assert unique.match(f"k={i}") == {"key": "k", "value": str(i)}
    assert unique._memo is None
    assert unique.match("k=7") == {"key": "k", "value": "7"}
    repeated = lib_of(BASIC).compile("%{PAIR}")
    for i in range(4 * matcher._TRIAL):            # two texts in three seen before
        repeated.match(f"k={i % 64}") if i % 3 else repeated.match(f"x={i}")
    assert repeated._memo is not None


def test_text_without_the_required_literal_skips_the_memo():
    """A text the prefilter refuses is answered None before the memo (a cheap refusal is not worth a memo)."""
    grok = lib_of(BASIC).compile("^%{WORD:w} HTTP/%{NUM:n}$")
    assert grok.prefilter == " HTTP/"
    assert grok.match("GET x") is None and "GET x" not in grok._memo
    assert grok.match("GET HTTP/1") == {"w": "GET", "n": "1"} and "GET HTTP/1" in grok._memo


def test_lookup_shares_the_memos_dict_and_match_copies_it():
    """The parser's `lookup` hands out the memo's dict itself (read-only); `match` a copy of it."""
    grok = lib_of(BASIC).compile("^%{PAIR}$")
    assert grok.lookup("c=3") is grok.lookup("c=3") == {"key": "c", "value": "3"}
    assert grok.match("c=3") is not grok.lookup("c=3")
