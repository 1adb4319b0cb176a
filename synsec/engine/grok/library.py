"""The grok pattern library: CrowdSec's `NAME REGEX` files, per-node pattern_syntax, and a compile cache."""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from ..errors import ErrorCollector, LoadError, Where
from .expand import NAME, Definition, expand
from .matcher import Grok
from .prefilter import required_literal

__all__ = ["PatternLibrary"]

# grokky's `addFromLine`: a name, whitespace, then the regex to the end of the line (trailing spaces kept).
_LINE = re.compile(r"(\w+)\s+(.+)", re.ASCII)


class PatternLibrary:
    """Named grok patterns. Reads no file: the content loader hands it (path, text) pairs."""

    def __init__(self, engine: str = "auto") -> None:
        self._defs: dict[str, Definition] = {}
        self._cache: dict[tuple, Grok] = {}
        self.engine = engine              # matcher.ENGINES: "auto" (Rust regex where it translates) or "re2"

    @classmethod
    def from_texts(cls, files: Iterable[tuple[str, str]], errors: ErrorCollector | None = None) -> "PatternLibrary":
        """Build a library from (path, file text) pairs; every bad line is reported, path:line: pattern name:
        raised as LoadErrors, or recorded in `errors` when given (the library then holds the good lines, so
        a bad pattern file does not hide the errors of the parsers)."""
        lib = cls()
        own = errors is None
        errors = ErrorCollector() if own else errors
        for path, text in files:
            for lineno, line in enumerate(text.splitlines(), start=1):
                stripped = line.strip()
                if not stripped or stripped.startswith("#"):
                    continue
                m = _LINE.fullmatch(line)
                if m is None:
                    errors.add(LoadError(Where(path, lineno, "(line)"), f"expected 'NAME REGEX', got {line[:80]!r}"))
                    continue
                try:
                    lib.add(m.group(1), m.group(2), Where(path, lineno))
                except LoadError as err:     # the error's field is the pattern's name
                    errors.add(LoadError(Where(path, lineno, m.group(1)), err.message))
        if own:
            errors.raise_if_any()
        return lib

    def add(self, name: str, regex: str, where: Where | None = None) -> None:
        """Define `name`; a name defined twice is a load error, as in grokky (ErrAlreadyExist)."""
        at = where or Where("<grok>")
        if not NAME.fullmatch(name):
            raise LoadError(at, f"invalid grok pattern name {name!r} (letters, digits, _)")
        if not regex:
            raise LoadError(at, f"empty regex for grok pattern {name}")
        if name in self._defs:
            first = self._defs[name].where
            raise LoadError(at, f"grok pattern {name} already defined" + (f" at {first}" if first else ""))
        self._defs[name] = Definition(name, regex, where)
        self._cache.clear()

    def copy(self) -> "PatternLibrary":
        """An independent library with the same definitions (and an empty compile cache)."""
        other = PatternLibrary(self.engine)
        other._defs = dict(self._defs)
        return other

    def names(self) -> list[str]:
        """Defined pattern names, sorted."""
        return sorted(self._defs)

    def __contains__(self, name: str) -> bool:
        return name in self._defs

    def __len__(self) -> int:
        return len(self._defs)

    def definition(self, name: str) -> Definition | None:
        """The definition of `name`, or None."""
        return self._defs.get(name)

    def compile(
        self, pattern: str, *, syntax: Mapping[str, str] | None = None, where: Where | None = None
    ) -> Grok:
        """Expand and compile a grok pattern; `syntax` (a node's pattern_syntax) shadows the library here only.

        Results are cached by (pattern, syntax), so a pattern shared by many nodes compiles once.
        """
        at = where or Where("<grok>")
        items = tuple(sorted(syntax.items())) if syntax else ()
        key = (pattern, items)
        grok = self._cache.get(key)
        if grok is None:
            grok = self._build(pattern, items, at)
            self._cache[key] = grok
        return grok

    def compile_named(
        self, name: str, *, syntax: Mapping[str, str] | None = None, where: Where | None = None
    ) -> Grok:
        """Compile the pattern called `name` (a node's `grok: {name: SSHD_FAIL}`)."""
        at = where or Where("<grok>")
        if not NAME.fullmatch(name):
            raise LoadError(at, f"invalid grok pattern name {name!r}")
        if name not in self._defs and name not in (syntax or {}):
            raise LoadError(at, f"unknown grok pattern {name}")
        return self.compile(f"%{{{name}}}", syntax=syntax, where=where)

    def check(self) -> list[LoadError]:
        """Compile every library pattern; return the errors (a lint pass, nothing raised)."""
        errors = ErrorCollector()
        for name, definition in sorted(self._defs.items()):
            errors.guard(self.compile_named, name, where=definition.where or Where("<grok>", 0, name))
        return errors.errors

    def _build(self, pattern: str, syntax: tuple[tuple[str, str], ...], where: Where) -> Grok:
        local = {}
        for name, regex in syntax:
            if not NAME.fullmatch(name):
                raise LoadError(where, f"invalid pattern_syntax name {name!r} (letters, digits, _)")
            local[name] = Definition(name, regex, where.child(f"pattern_syntax.{name}") if where else None)

        def resolve(name: str) -> Definition | None:
            return local.get(name) or self._defs.get(name)

        expansion = expand(pattern, resolve, where)
        return Grok(expansion.regex, expansion.groups, required_literal(expansion.regex), where, self.engine)
