"""Expand `%{NAME}` / `%{NAME:field}` / `%{NAME:field:type}` into one regex, with grokky's field rules.

Field rules (crowdsecurity/grokky `compileExternalRe2`, which CrowdSec runs):
- each `%{NAME:field}` captures the whole expansion of NAME under `field`;
- the fields of a nested pattern surface too, unless the referencing text itself writes that field name
  (the names written in a pattern beat the names defined inside the patterns it references);
- a name bound several times keeps its last binding, even when that group did not take part in the match
  (then its value is ""), exactly as grokky's `msi[sem] = order` overwrite;
- raw groups in pattern text, named or not, capture nothing: grokky reads fields only from `%{X:field}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..errors import LoadError, Where
from .syntax import uncapture

__all__ = ["Definition", "Expansion", "expand", "REFERENCE", "NAME", "MAX_EXPANSION"]

NAME = re.compile(r"\w+", re.ASCII)
# grokky accepts %{NAME} and %{NAME:field} with \w names; we also take dotted/dashed field names and an
# ignored `:type` suffix (logstash's %{INT:bytes:int}); everything captured stays a string.
REFERENCE = re.compile(r"%\{(\w+)(?::([\w.\-]+))?(?::\w+)?\}", re.ASCII)
_BROKEN = re.compile(r"%\{\w[^}]*\}", re.ASCII)
_MARK = re.compile("\x00(\\d+)\x00")
# Characters one pattern may produce while expanding, every nested expansion counted (the hub's largest
# pattern, SSHD_LOG, expands to 30,701): a chain of patterns that each reference the previous one twice
# would otherwise double its size at each link (40 links: 2^40 characters).
MAX_EXPANSION = 1_000_000


@dataclass(frozen=True, slots=True)
class Definition:
    """A named pattern and where it was defined (for error messages)."""

    name: str
    regex: str
    where: Where | None = None


@dataclass
class Expansion:
    """Expanded regex text plus field name -> internal group name."""

    regex: str
    groups: dict[str, str]


Resolver = Callable[[str], "Definition | None"]


def expand(pattern: str, resolve: Resolver, where: Where) -> Expansion:
    """Expand `pattern`; unknown names, loops and malformed references raise LoadError(where, ...)."""
    if not pattern:
        raise LoadError(where, "empty grok pattern")
    state = _State(resolve, where)
    text, fields = state.expand(pattern, ())
    keep = set(fields.values())

    def opener(m: re.Match) -> str:
        n = int(m.group(1))
        return f"(?P<g{n}>" if n in keep else "(?:"

    regex = _MARK.sub(opener, text)
    return Expansion(regex, {name: f"g{n}" for name, n in fields.items()})


class _State:
    def __init__(self, resolve: Resolver, where: Where):
        self.resolve = resolve
        self.where = where
        self.counter = 0
        self.produced = 0          # characters produced so far, nested expansions included

    def expand(self, text: str, stack: tuple[str, ...]) -> tuple[str, dict[str, int]]:
        """Return (regex text with group markers, field -> group number) for one pattern text."""
        if "\x00" in text:
            raise LoadError(self.where, f"NUL character in grok pattern{self._chain(stack)}")
        text = uncapture(text)
        refs = list(REFERENCE.finditer(text))
        self._check_malformed(text, refs, stack)
        own = {m.group(2) for m in refs if m.group(2)}
        fields: dict[str, int] = {}
        parts: list[str] = []
        last = 0
        for m in refs:
            name, sem = m.group(1), m.group(2)
            parts.append(text[last : m.start()])
            last = m.end()
            sub_text, sub_fields = self._expand_name(name, stack)
            if sem:
                self.counter += 1
                fields[sem] = self.counter
                parts.append(f"\x00{self.counter}\x00{sub_text})")
            else:
                parts.append(f"(?:{sub_text})")
            for k, v in sub_fields.items():
                if k not in own:
                    fields[k] = v
        parts.append(text[last:])
        out = "".join(parts)
        self.produced += len(out)
        if self.produced > MAX_EXPANSION:
            raise LoadError(self.where, f"grok pattern expands to more than {MAX_EXPANSION} characters"
                                        f"{self._chain(stack)}")
        return out, fields

    def _expand_name(self, name: str, stack: tuple[str, ...]) -> tuple[str, dict[str, int]]:
        if name in stack:
            loop = " -> ".join((*stack[stack.index(name) :], name))
            raise LoadError(self.where, f"recursive grok pattern: {loop}")
        definition = self.resolve(name)
        if definition is None:
            raise LoadError(self.where, f"unknown grok pattern %{{{name}}}{self._chain(stack)}")
        return self.expand(definition.regex, (*stack, name))

    def _check_malformed(self, text: str, refs: list[re.Match], stack: tuple[str, ...]) -> None:
        good = {m.start() for m in refs}
        for m in _BROKEN.finditer(text):
            if m.start() not in good:
                raise LoadError(self.where, f"malformed grok reference {m.group(0)!r}{self._chain(stack)}")

    def _chain(self, stack: tuple[str, ...]) -> str:
        if not stack:
            return ""
        definition = self.resolve(stack[-1])
        at = f" ({definition.where})" if definition and definition.where else ""
        return f" in %{{{stack[-1]}}}{at}"
