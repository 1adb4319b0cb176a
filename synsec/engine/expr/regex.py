"""RE2 through google-re2's low-level binding: Go regexp semantics, linear time, a boolean `search`.

The high-level `re2.search` builds match objects and costs ~3 µs a call; the binding's `Match` on UTF-8 bytes
costs about half of that, and `never_capture` keeps it from filling group spans we never read.
"""

from __future__ import annotations

import re2

from ..errors import SynsecError

__all__ = ["Regex", "RegexError", "compile_regex", "literal_pattern", "cached_regex"]

_OPTIONS = re2.Options()
_OPTIONS.never_capture = True
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 256 << 20
_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED
_RE2 = re2._re2.RE2
_META = frozenset("\\.+*?()|[]{}^$")


class RegexError(SynsecError, ValueError):
    """A pattern RE2 (Go's regexp syntax) rejects."""


class Regex:
    """One compiled RE2 program; `search(s)` is True when it matches anywhere in s (Go MatchString)."""

    __slots__ = ("pattern", "_match")

    def __init__(self, pattern: str):
        self.pattern = pattern
        prog = _RE2(pattern.encode("utf-8", "surrogateescape"), _OPTIONS)
        if not prog.ok():
            err = prog.error()
            raise RegexError(err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err))
        self._match = prog.Match

    def search(self, text: str) -> bool:
        data = text.encode("utf-8", "surrogateescape")
        return self._match(_UNANCHORED, data, 0, len(data))[0][0] >= 0

    def first_span(self, data: bytes) -> tuple[int, int]:
        """(start, end) of the leftmost-first match in UTF-8 `data` (Go FindIndex); (-1, -1) when none."""
        return self._match(_UNANCHORED, data, 0, len(data))[0]

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"


def compile_regex(pattern: str) -> Regex:
    return Regex(pattern)


def literal_pattern(text: str) -> str:
    """A pattern matching text literally (RE2 accepts a backslash before any punctuation)."""
    return "".join("\\" + c if c in _META else c for c in text)


_CACHE: dict[str, Regex] = {}


def cached_regex(pattern: str) -> Regex:
    """A compiled pattern for a `matches` whose right side is computed per event; bounded cache."""
    rx = _CACHE.get(pattern)
    if rx is None:
        if len(_CACHE) >= 4096:
            _CACHE.clear()
        rx = _CACHE[pattern] = Regex(pattern)
    return rx
