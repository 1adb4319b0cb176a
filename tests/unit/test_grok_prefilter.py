"""The grok prefilter: a literal every match contains; it must never reject a line the regex matches."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from re2 import _re2

from synsec.engine.grok import PatternLibrary
from synsec.engine.grok.prefilter import required_literal
from synsec.engine.grok.syntax import uncapture, tokenize

# --- generating (Go regex text, a string it matches) pairs ------------------------------------------------------

_CHARS = "abcxyzXY019 _-./:[](){}|*+?^$\\\"'%#éΩ漢"


def _esc(text: str) -> str:
    return "".join("\\" + c if c.isascii() and not c.isalnum() and c != " " else c for c in text)


literal = st.text(_CHARS, min_size=1, max_size=6).map(lambda s: (_esc(s), s))
char_class = st.sampled_from("abc").map(lambda c: ("[a-c]", c))
digit = st.sampled_from("0123456789").map(lambda c: (r"\d", c))
dot = st.sampled_from("qé;Ω ").map(lambda c: (".", c))
quoted = st.text("ab.*(|)[", min_size=1, max_size=5).map(lambda s: (rf"\Q{s}\E", s))
plus_char = st.tuples(st.sampled_from("ab-."), st.integers(1, 3)).map(lambda t: (_esc(t[0]) + "+", t[0] * t[1]))
opt_char = st.tuples(st.sampled_from("ab-."), st.sampled_from(["?", "*", "??", "{0,2}"]), st.booleans()).map(
    lambda t: (_esc(t[0]) + t[1], t[0] if t[2] else ""))
word = st.text("abcxyz -", min_size=3, max_size=8).map(lambda s: (_esc(s), s))
atoms = st.one_of(literal, word, word, char_class, digit, dot, quoted, plus_char, opt_char)


def _swapcase_ascii(s: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if c.isascii() and flip else c for c, flip in zip(s, flips + [False] * len(s)))


def _extend(children):
    def concat(items):
        return "".join(r for r, _ in items), "".join(e for _, e in items)

    def alt(t):
        (a, ea), (b, eb), pick = t
        return f"(?:{a}|{b})", ea if pick else eb

    def optional(t):
        (r, e), take = t
        return f"(?:{r})?", e if take else ""

    def star(t):
        (r, e), n, lazy = t
        return f"(?:{r})*" + ("?" if lazy else ""), e * n

    def plus(t):
        (r, e), n = t
        return f"(?:{r})+", e * n

    def counted(t):
        (r, e), n = t
        return f"(?:{r}){{1,3}}", e * n

    def nocase(t):
        (r, e), flips, scoped = t
        flipped = _swapcase_ascii(e, flips)
        return (f"(?i:{r})" if scoped else f"(?:(?i){r})"), flipped

    def named(t):
        (r, e), name = t
        return f"(?P<{name}>{r})", e

    return st.one_of(
        st.lists(children, min_size=1, max_size=4).map(concat),
        st.tuples(children, children, st.booleans()).map(alt),
        st.tuples(children, st.booleans()).map(optional),
        st.tuples(children, st.integers(0, 2), st.booleans()).map(star),
        st.tuples(children, st.integers(1, 2)).map(plus),
        st.tuples(children, st.integers(1, 3)).map(counted),
        st.tuples(children, st.lists(st.booleans(), max_size=12), st.booleans()).map(nocase),
        st.tuples(children, st.sampled_from(["a", "b", "x1"])).map(named),
    )


_tree = st.recursive(atoms, _extend, max_leaves=10)
# Top level is mostly a concatenation, as in real grok patterns; that is where literals get picked.
regex_and_example = st.lists(_tree, min_size=1, max_size=4).map(
    lambda items: ("".join(r for r, _ in items), "".join(e for _, e in items)))


def _re2_matches(regex: str, text: str) -> bool:
    program = _re2.RE2(uncapture(regex).encode(), _re2.RE2.Options())
    assert program.ok(), program.error()
    data = text.encode("utf-8")
    return program.Match(_re2.RE2.Anchor.UNANCHORED, data, 0, len(data))[0][0] >= 0


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(regex_and_example, st.text("ab -", max_size=5), st.text("ab -", max_size=5))
def test_prefilter_never_rejects_a_line_the_regex_matches(pair, prefix, suffix):
    """For random regexes and lines they match, the prefilter literal is in the line and match() succeeds."""
    regex, example = pair
    line = prefix + example + suffix
    assert _re2_matches(regex, line), (regex, line)  # the generator itself is right
    grok = PatternLibrary().compile(regex)
    if grok.prefilter is not None:
        assert grok.prefilter in line, (regex, grok.prefilter, line)
    assert grok.match(line) is not None


@given(regex_and_example)
def test_tokenizer_round_trips(pair):
    """Joining the token texts gives back the regex text exactly (the tokenizer loses nothing)."""
    regex, _ = pair
    assert "".join(t.text for t in tokenize(regex)) == regex


# --- which literal is chosen ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "regex, literal",
    [
        (r"^\[client (\d+)\] failed login$", "] failed login"),
        (r"x (?:abc|abd) sshd\[", " sshd["),
        (r"(?:Accepted publickey)+ for", "Accepted publickey"),
        (r"ab+cdef", "cdef"),
        (r"\QGET /\E\d", "GET /"),
        (r"é漢字 \d", "é漢字 "),
        (r"(?P<x>sshd)\[", "sshd"),
    ],
)
def test_literal_is_taken_from_required_parts(regex, literal):
    """The literal comes from the concatenation every match passes through, descending into required groups."""
    assert required_literal(regex) == literal


@pytest.mark.parametrize(
    "regex",
    [
        r"sshd|httpd",              # top-level alternation
        r"(?:sshd)? \d",            # optional
        r"(?:sshd)* \d",            # starred
        r"(?:sshd){0,2} \d",        # counted from zero
        r"(?i)sshd\[\d",            # case-insensitive scope
        r"(?i:sshd) \d",            # case-insensitive group
        r"(?:x(?i)sshd)",           # flag set mid-group
        r"ab?",                     # too short once the optional b is dropped
        r"[sshd]+",                 # a class is not a literal
    ],
)
def test_no_literal_when_not_required(regex):
    """No prefilter when no literal of 3+ characters is certainly present in every match."""
    assert required_literal(regex) is None
