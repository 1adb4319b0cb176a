"""Data files of type `map` (JSON lines of `pattern`, `tag`, `type`) and CrowdSec's FileMap and LookupFile.

A row's `type` says how its pattern matches a haystack: `equals` (whole string), `contains` (substring) or `regex`
(Go regexp). LookupFile answers the tag of the first row that matches, looking at equals rows first (the last row
of a repeated pattern wins), then contains rows (the leftmost match in the haystack; at one place, the row listed
first), then regex rows in file order; "" when none does.
"""

from __future__ import annotations

from .regex import Regex, literal_pattern
from .registry import helper

__all__ = ["FileMap", "MAP_ROW_TYPES"]

MAP_ROW_TYPES = ("equals", "contains", "regex")


class FileMap:
    """The rows of one map data file (already validated) and the indexes LookupFile searches, built once."""

    __slots__ = ("rows", "_equals", "_contains", "_contains_tag", "_regexes")

    def __init__(self, rows: list[dict[str, str]]):
        self.rows = tuple(rows)
        self._equals = {r["pattern"]: r["tag"] for r in rows if r["type"] == "equals"}
        literals = [r for r in rows if r["type"] == "contains"]
        self._contains_tag: dict[bytes, str] = {}
        for r in literals:
            self._contains_tag.setdefault(r["pattern"].encode("utf-8", "surrogateescape"), r["tag"])
        self._contains = None
        if literals:    # RE2 alternation is leftmost-first, as CrowdSec's Aho-Corasick automaton
            self._contains = Regex("|".join(literal_pattern(r["pattern"]) for r in literals))
        self._regexes = tuple((Regex(r["pattern"]), r["tag"]) for r in rows if r["type"] == "regex")

    def lookup(self, haystack: str) -> str:
        tag = self._equals.get(haystack)
        if tag is not None:
            return tag
        if self._contains is not None:
            data = haystack.encode("utf-8", "surrogateescape")
            start, end = self._contains.first_span(data)
            if start >= 0:
                return self._contains_tag[data[start:end]]
        for rx, tag in self._regexes:
            if rx.search(haystack):
                return tag
        return ""


def _loaded(cg, name_node):
    """Compile time: a literal file name must name a loaded map file (as File and RegexpInFile)."""
    from .codegen import CompileError
    name = cg.fold(name_node)
    if type(name) is str and name not in cg.ctx.maps:
        raise CompileError(f"data file {name!r} (type map) is not loaded", name_node.pos)
    return None


@helper("FileMap", 1, returns="list", needs_ctx=True, specialise=lambda call, cg: _loaded(cg, call.args[0]))
def file_map(ctx, name):
    """The rows of a map data file, each a map of its fields ([] when unknown)."""
    fm = ctx.maps.get(name)
    return [] if fm is None else [dict(r) for r in fm.rows]


@helper("LookupFile", 2, returns="str", needs_ctx=True, specialise=lambda call, cg: _loaded(cg, call.args[1]))
def lookup_file(ctx, haystack, name):
    """The tag of the first row of map file `name` matching haystack ("" when none or the file is unknown)."""
    fm = ctx.maps.get(name)
    return "" if fm is None else fm.lookup(haystack)
