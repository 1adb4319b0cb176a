"""The scenario filter index: which scenarios' filters can possibly be true for an event, found in one pass.

Hub content has dozens of scenarios, most of them CVE probes of the form `Upper(evt.Meta.http_path) contains
'...'`; evaluating every filter on every event was the largest cost of a replay. At load, each filter yields one
necessary clause (`synsec.engine.expr.requirements`): "one of these atoms is true". Per event the index
evaluates each distinct field once, looks its value up (equality atoms: one dict lookup per field; substring
atoms: one RE2 set match per field, or plain `in` tests when a field has few literals) and returns the bit mask
of the scenarios whose clause holds, plus those without a clause. Their full filters then decide, so the
index changes which filters run, never what they decide.

When a field's evaluation raises or yields a non-string, every scenario with an atom on that field stays a
candidate (its own filter then counts the error, as without the index).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import re2

from synsec.engine.expr.codegen import CodeGen
from synsec.engine.expr.compiler import compile_node
from synsec.engine.expr.regex import literal_pattern
from synsec.engine.expr.requirements import requirement

__all__ = ["FilterIndex"]

_SET_THRESHOLD = 4      # a field with more substring literals than this gets an RE2 set
_OPTIONS = re2.Options()
_OPTIONS.never_capture = True
_OPTIONS.log_errors = False
_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED


class _Field:
    """One field sub-expression: its compiled reader and the atoms on it, as scenario bit masks."""

    __slots__ = ("read", "eq", "has", "has_set", "has_masks", "all_mask")

    def __init__(self, read: Callable[[Any], Any]):
        self.read = read
        self.eq: dict[str, int] = {}
        self.has: dict[str, int] | tuple = {}
        self.has_set = None
        self.has_masks: tuple[int, ...] = ()
        self.all_mask = 0

    def seal(self) -> None:
        literals = list(self.has)
        if len(literals) > _SET_THRESHOLD:
            rset = re2._re2.Set(_UNANCHORED, _OPTIONS)
            for lit in literals:
                rset.Add(literal_pattern(lit).encode("utf-8", "surrogateescape"))
            if rset.Compile():
                self.has_set, self.has_masks = rset.Match, tuple(self.has[lit] for lit in literals)
        self.has = tuple(self.has.items())

    def mask(self, evt) -> int:
        try:
            value = self.read(evt)
        except Exception:
            return self.all_mask
        if value.__class__ is not str:
            return self.all_mask
        m = self.eq.get(value, 0) if self.eq else 0
        if self.has_set is not None:
            masks = self.has_masks
            for i in self.has_set(value.encode("utf-8", "surrogateescape")):
                m |= masks[i]
        else:
            for lit, bits in self.has:
                if lit in value:
                    m |= bits
        return m


class FilterIndex:
    """Built once from the scenarios' compiled filters (in scenario order); `candidates(evt)` is a bit mask."""

    def __init__(self, filters: Sequence[Any]):
        self.size = len(filters)
        self.always = 0
        self.indexed = 0
        fields: dict[Any, _Field] = {}
        for i, filt in enumerate(filters):
            bit = 1 << i
            clause = self._clause(filt)
            if clause is None:
                self.always |= bit
                continue
            self.indexed += 1
            for atom in clause:
                f = fields.get(atom.field)
                if f is None:
                    read = compile_node(atom.node, text=filt.text, where=filt.where, ctx=filt.ctx).fn
                    f = fields[atom.field] = _Field(read)
                table = f.eq if atom.kind == "eq" else f.has
                table[atom.literal] = table.get(atom.literal, 0) | bit
                f.all_mask |= bit
        for f in fields.values():
            f.seal()
        self._fields = tuple(f.mask for f in fields.values())

    @staticmethod
    def _clause(filt: Any):
        """The filter's necessary clause, or None (no filter, an opaque callable, nothing understood)."""
        tree = getattr(filt, "tree", None)
        if tree is None or getattr(filt, "params", ("evt",)) != ("evt",):
            return None
        return requirement(tree, CodeGen(("evt",), filt.ctx))

    def candidates(self, evt) -> int:
        """Bit i set: scenario i's filter may be true for evt (it must still be evaluated)."""
        m = self.always
        for mask in self._fields:
            m |= mask(evt)
        return m
