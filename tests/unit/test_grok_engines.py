"""The Rust-regex grok engine gives exactly RE2's fields: translation rules, then a differential run of every
grok pattern (ours, and the hub's when unpacked) over real and mutated log lines, then Hypothesis."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synsec.content.loader import _patterns
from synsec.content.patterns import load_patterns
from synsec.engine.grok import PatternLibrary
from synsec.engine.grok.rust import capture_names, to_rust

ROOT = Path(__file__).resolve().parents[2]
HUB_PATTERNS = Path(os.environ.get("SYNSEC_HUB_ROOT", ROOT / ".cache" / "crowdsec" / "root")) / "etc/crowdsec/patterns"


def _lib(patterns: str, engine: str) -> PatternLibrary:
    lib = PatternLibrary.from_texts([("t", patterns)])
    lib.engine = engine
    return lib


def _pair(pattern: str, patterns: str = "X x\n"):
    fast, ref = _lib(patterns, "auto").compile(pattern), _lib(patterns, "re2").compile(pattern)
    assert ref.engine == "re2"
    return fast, ref


@pytest.mark.parametrize("regex, expected", [
    (r"\d+", "[0-9]+"),
    (r"[\w.-]+", r"[0-9A-Za-z_.-]+"),
    (r"[^\s]", r"[^\t\n\f\r ]"),
    (r"[\S]", r"[[^\t\n\f\r ]]"),
    (r"\bfoo\B", r"(?-u:\b)foo(?-u:\B)"),
    (r"\<a\>", "<a>"),
    (r"[a[&~]", r"[a\[\&\~]"),
    (r"(?<n>x)", "(?P<n>x)"),
    (r"a{,3}", r"a\{,3\}"),
    (r"\pL\p{Greek}[\pN\x41]", r"\pL\p{Greek}[\pN\x41]"),
])
def test_translation_rewrites_go_meaning_into_rust_syntax(regex, expected):
    """Perl classes become ASCII sets, Go literal escapes stay literals, Rust class operators are escaped."""
    assert to_rust(regex) == expected


@pytest.mark.parametrize("regex", [r"[+--]", r"\101", r"\C", r"a\Q\Eb", r"[\z]"])
def test_untranslatable_constructs_are_refused(regex):
    """A construct whose meaning differs or is absent in Rust leaves the grok on RE2."""
    assert to_rust(regex) is None


def test_capture_numbering_counts_plain_and_named_groups():
    """Group numbers: left parentheses of capturing groups in order, as both engines number them."""
    assert capture_names(r"(a)(?:b)(?P<x>c)(?<y>d)(?i:e)") == [None, "x", "y"]


@pytest.mark.parametrize("pattern, line, expected", [
    ("%{D:n}", "x ٣٤ 12", {"n": "12"}),                 # \d is ASCII in Go: Arabic-Indic digits are not
    ("%{W:w}", "été ok", {"w": "t"}),                  # \w is ASCII: é is not a word character
    ("a%{S:s}b", "a\u2003b", None),                     # an em space is not \s in Go
    ("%{LT:x}", "1<2", {"x": "<"}),                     # \< is a literal '<' in Go, a boundary in Rust
    ("%{DATA:a}=%{GREEDY:b}", "k=v=ü漢", {"a": "k", "b": "v=ü漢"}),
])
def test_go_semantics_hold_on_the_rust_engine(pattern, line, expected):
    """The translated regex keeps Go's ASCII classes and literal escapes, and captures non-ASCII text."""
    patterns = "D \\d+\nW \\w+\nS \\s\nLT \\<\nDATA .*?\nGREEDY .*\n"
    fast, ref = _pair(pattern, patterns)
    assert fast.engine == "rust"
    assert fast.match(line) == ref.match(line) == expected


def test_a_line_with_lone_surrogates_is_matched_by_re2():
    """Text the Rust binding cannot take (lone surrogates from undecodable bytes) still matches, via RE2."""
    fast, ref = _pair("%{DATA:a} %{GREEDY:b}$", "DATA .*?\nGREEDY .*\n")
    line = "bad\udcff byte\udcfe"
    assert fast.engine == "rust"
    assert fast.match(line) == ref.match(line) == {"a": "bad\udcff", "b": "byte\udcfe"}


def test_engine_re2_keeps_every_grok_on_re2():
    """`grok_engine: re2` (EngineOptions) compiles no Rust program."""
    assert _lib("X x\n", "re2").compile("%{X:x}").engine == "re2"
    assert _lib("X x\n", "auto").compile("%{X:x}").engine == "rust"


def _corpus() -> list[str]:
    """Every golden sample line, generated nginx/sshd lines, and mutations of them (truncated, digits and
    spaces swapped for non-ASCII look-alikes, doubled separators): matches and near misses, each distinct line
    once (the golden directories share many lines, and both engines are deterministic)."""
    lines = [ln for p in sorted((ROOT / "tests" / "golden").rglob("*.log"))
             for ln in p.read_text(encoding="utf-8", errors="replace").splitlines() if ln]
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import gen_log
    finally:
        sys.path.pop(0)
    rng = random.Random(7)
    lines += [" ".join(map(str, (gen_log.benign_ip(rng), "-", "-", "[01/Mar/2024:08:00:01 +0000]",
                                 '"GET /a/b.php?x=1&y=%2F HTTP/1.1"', 200, 512, '"-"', '"curl/8.0"')))]
    rng = random.Random(1)
    out = list(lines)
    for ln in lines:
        cut = rng.randrange(1, max(2, len(ln)))
        out += [ln[:cut], ln.replace("1", "١"), ln.replace(" ", "\u00a0", 1), ln.replace(" ", "  "),
                ln.replace('"', "", 1), "é" + ln + "漢"]
    return list(dict.fromkeys(out))


def _all_patterns() -> tuple[str, list[str]]:
    """(pattern file texts joined, every pattern name): the hub's patterns when unpacked, else ours."""
    lib = _patterns([HUB_PATTERNS] if HUB_PATTERNS.is_dir() else [ROOT / "scenarios" / "patterns"])
    text = "".join(f"{name} {lib.definition(name).regex}\n" for name in lib.names())
    return text, lib.names()


def test_every_pattern_gives_the_same_fields_on_both_engines():
    """Each library pattern, on every corpus line, gives RE2's exact fields (or no match) on the Rust engine."""
    text, names = _all_patterns()
    fast_lib, ref_lib = _lib(text, "auto"), _lib(text, "re2")
    corpus = _corpus()
    on_rust = mismatches = 0
    report = []
    for name in names:
        pattern = "%{" + name + ":whole}"
        fast, ref = fast_lib.compile(pattern), ref_lib.compile(pattern)
        on_rust += fast.engine == "rust"
        for line in corpus:
            got, want = fast.match(line), ref.match(line)
            if got != want:
                mismatches += 1
                report.append(f"{name} on {line!r}: rust {got!r} != re2 {want!r}")
    assert not report, "\n".join(report[:20])
    assert on_rust >= 0.95 * len(names), f"only {on_rust}/{len(names)} patterns run on the Rust engine"


def _pairs():
    lib = load_patterns()
    ref = lib.copy()
    ref.engine = "re2"
    pats = ["%{IPORHOST:h} %{NUMBER:n}", "%{SYSLOGLINE}", "%{IP:ip}:%{POSINT:port}",
            "%{HTTPDATE:d}|%{SYSLOGTIMESTAMP:s}", '"%{WORD:verb} %{DATA:req} HTTP/%{NUMBER:v}"']
    return [(lib.compile(p), ref.compile(p)) for p in pats]


_PAIRS = _pairs()
_ALPHABET = st.sampled_from(list("0123456789abcdefABCDEF.:-_/ []\"'=?&%+é漢\t") + ["::", " HTTP/1.1", "GET ",
                                                                                 "Mar  1 08:00:01 ", "sshd[12]: "])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_hypothesis_lines_give_the_same_fields(line):
    """Random lines over the characters these patterns care about: both engines agree on IP/host/syslog groks."""
    for fast, ref in _PAIRS:
        assert fast.match(line) == ref.match(line), (fast.regex[:80], line)

