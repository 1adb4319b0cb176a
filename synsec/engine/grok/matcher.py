"""A compiled grok: a linear-time program (Rust regex, else RE2), its fields and its prefilter.

Both engines are automata with leftmost-first semantics and the same group numbering. RE2 always compiles the
regex (it is the reference, gives the load errors, and takes the lines the Rust binding cannot: text with lone
surrogates); Rust's `regex` crate matches when the regex translates (`rust.to_rust`) and compiles, because it
finds submatches about 3x faster on the long hub patterns. `engine="re2"` keeps a grok on RE2 only.

A grok applied to a field that repeats (the request path of http-logs, split into directory, file and
extension) keeps its results in a bounded memo keyed by the text; one whose texts rarely repeat (a whole log
line, a message that a dozen sshd groks try in turn) drops its memo after a trial, so that it costs nothing
there; a text without the grok's required literal is refused before the memo.
"""

from __future__ import annotations

import re2
from re2 import _re2

from ..errors import LoadError, Where
from ..expr.compiler import generated_function
from .rust import capture_names, to_rust

try:
    import paula
except ImportError:  # the binding is a dependency; without it every grok runs on RE2
    paula = None

__all__ = ["Grok", "compile_regex", "ENGINES"]

ENGINES = ("auto", "re2")

_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_MEMO_TEXT = 256       # texts up to this many characters are memoised,
_MEMO_SIZE = 16384     # at most this many a grok (the memo empties when full);
_TRIAL = 2048          # after this many texts not seen before, a grok that had few repeats stops memoising
_MISS = object()
# Expanded hub patterns (IPV6 inside IPORHOST, several times) outgrow RE2's default 8 MiB program budget.
_MAX_MEM = 64 << 20


def compile_regex(regex: str, where: Where) -> "_re2.RE2":
    """Compile Go-syntax regex text with RE2 (Perl classes, UTF-8, `.` stops at newline, as Go's regexp)."""
    options = re2.Options()
    options.max_mem = _MAX_MEM
    program = _re2.RE2(regex.encode("utf-8", "surrogatepass"), options)
    if not program.ok():
        message = program.error().decode("utf-8", "replace")
        raise LoadError(where, f"grok regex does not compile under RE2: {message}")
    return program


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:  # a span cut through a lone surrogate RE2 saw as stray bytes
        return data.decode("utf-8", "replace")


class Grok:
    """Match one expanded grok pattern against a line; `match` returns {field: text} or None."""

    __slots__ = ("regex", "fields", "prefilter", "engine", "_program", "_slots", "_fast", "_take", "_memo",
                 "_hits", "_misses")

    def __init__(self, regex: str, groups: dict[str, str], prefilter: str | None, where: Where,
                 engine: str = "auto"):
        if engine not in ENGINES:
            raise LoadError(where, f"unknown grok engine {engine!r} (one of {', '.join(ENGINES)})")
        self.regex = regex
        self.fields: tuple[str, ...] = tuple(groups)
        self.prefilter = prefilter
        self._program = compile_regex(regex, where)
        index = {name.decode(): i for name, i in self._program.NamedCapturingGroups()}
        self._slots: tuple[tuple[str, int], ...] = tuple((f, index[g]) for f, g in groups.items())
        self._fast = _rust_program(regex, index) if engine == "auto" else None
        self.engine = "rust" if self._fast is not None else "re2"
        self._take = _taker(self._slots)
        self._memo: dict | None = {}      # text -> result, None once the trial found few repeats
        self._hits = self._misses = 0

    def match(self, text: str) -> dict[str, str] | None:
        """Fields of the leftmost match in `text` ("" for groups that did not take part), or None.

        A pattern without fields that matches gives {}; CrowdSec counts an empty result as a failed grok,
        which is the caller's rule to apply, not this matcher's. The dict is the caller's to keep or change.
        """
        got = self.lookup(text)
        return None if got is None else dict(got)

    def lookup(self, text: str) -> dict[str, str] | None:
        """`match`, but the dict may be the memo's own: read it, never change it (the parser copies it into
        the event's Parsed)."""
        memo = self._memo
        if memo is None or len(text) > _MEMO_TEXT:
            return self._match(text)
        if self.prefilter is not None and self.prefilter not in text:
            return None                     # cheaper than the memo
        got = memo.get(text, _MISS)
        if got is _MISS:
            got = self._match(text)
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[text] = got
            self._misses += 1
            if self._misses == _TRIAL and self._hits < self._misses:   # under 1 hit in 2: not worth it
                self._memo = None
        else:
            self._hits += 1
        return got

    def _match(self, text: str) -> dict[str, str] | None:
        if self.prefilter is not None and self.prefilter not in text:
            return None
        if self._fast is not None:
            try:
                caps = self._fast.captures(text)
            except UnicodeEncodeError:   # lone surrogates: only RE2 (on surrogatepass bytes) takes them
                return self.match_re2(text)
            if caps is None:
                return None
            return self._take(caps)
        return self.match_re2(text)

    def match_re2(self, text: str) -> dict[str, str] | None:
        """`match` on the RE2 program, whichever engine the grok uses (the prefilter is the caller's)."""
        if text.isascii():  # byte offsets are character offsets: slice the str, decode nothing
            data = text.encode("ascii")
            spans = self._program.Match(_UNANCHORED, data, 0, len(data))
            if spans[0][0] < 0:
                return None
            return {f: text[spans[i][0] : spans[i][1]] if spans[i][0] >= 0 else "" for f, i in self._slots}
        data = text.encode("utf-8", "surrogatepass")
        spans = self._program.Match(_UNANCHORED, data, 0, len(data))
        if spans[0][0] < 0:
            return None
        out = {}
        for f, i in self._slots:
            start, end = spans[i]
            out[f] = _decode(data[start:end]) if start >= 0 else ""
        return out

    def __repr__(self) -> str:
        return f"Grok(fields={self.fields!r}, prefilter={self.prefilter!r}, engine={self.engine!r})"


def _taker(slots: tuple[tuple[str, int], ...]):
    """`take(caps) -> {field: text}` for a list of groups (None: did not take part, read as ""): one dict
    display generated once, about twice as fast as a comprehension over the slots."""
    items = ", ".join(f"{field!r}: caps[{i}] or ''" for field, i in slots)
    return generated_function(f"def _take(caps):\n    return {{{items}}}\n", {}, "_take", "<grok fields>")


def _rust_program(regex: str, re2_index: dict[str, int]):
    """The regex compiled by Rust's regex crate, or None (no binding, not translated, or not compiled)."""
    if paula is None:
        return None
    text = to_rust(regex)
    if text is None:
        return None
    names = capture_names(text)
    if any(names[i - 1] != name for name, i in re2_index.items()):
        return None                      # group numbers differ: never the case for an expanded grok
    try:
        return paula.Regex(text)
    except ValueError:                   # a construct Rust rejects (e.g. a repeated empty assertion)
        return None
