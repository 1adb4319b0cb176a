"""Grok for synsec: CrowdSec's pattern files and field rules, matched by RE2 in time linear in the line.

`PatternLibrary.from_texts([(path, text), ...])` loads `NAME REGEX` files; `lib.compile(pattern, syntax=...)`
expands a node's grok once into a single regex and returns a `Grok` whose `match(line)` gives the fields.
"""

from .library import PatternLibrary
from .matcher import Grok

__all__ = ["PatternLibrary", "Grok"]
