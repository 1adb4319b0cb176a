"""The scenario filter index: which scenarios' filters can possibly be true for an event, found in one pass.

Hub content has dozens of scenarios, most of them CVE probes of the form `Upper(evt.Meta.http_path) contains
'...'`; evaluating every filter on every event was the largest cost of a replay. At load, each filter yields one
necessary clause (`synsec.engine.expr.requirements`): "one of these atoms is true". Per event the index
evaluates each distinct field once, looks its value up (equality atoms: one dict lookup per field; substring
atoms: one regex-set match per field (Rust's RegexSet, else RE2's), or plain `in` tests when a field has few literals) and returns the bit mask
of the scenarios whose clause holds, plus those without a clause. Their full filters then decide, so the
index changes which filters run, never what they decide.

Fields that read one and the same member of the event through pure helpers (`evt.Meta.http_path`,
`Upper(evt.Meta.http_path)`, `Upper(PathUnescape(evt.Meta.http_path))`) form a group whose mask is a function of
that member's value alone: it is kept in a bounded memo keyed by the value (a short string), so a path, user
agent or referer seen before costs one dict lookup instead of its case foldings, unescapes and set matches.

When a field's evaluation raises or yields a non-string, every scenario with an atom on that field stays a
candidate (its own filter then counts the error, as without the index).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import re2

from synsec.engine.errors import Where
from synsec.engine.expr.codegen import CodeGen
from synsec.engine.expr.compiler import FIELD_ERROR, compile_fields, generated_function
from synsec.engine.expr.context import ExprContext
from synsec.engine.expr.nodes import Call, Const, Ident, Member
from synsec.engine.expr.regex import literal_pattern
from synsec.engine.expr.requirements import node_key, requirement
from synsec.engine.grok.rust import literal as rust_literal

try:
    import paula
except ImportError:
    paula = None

__all__ = ["FilterIndex"]

_SET_THRESHOLD = 4      # a field with more substring literals than this gets an RE2 set
_OPTIONS = re2.Options()
_OPTIONS.never_capture = True
_OPTIONS.log_errors = False
_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED
_WHERE = Where("<filter index>")
_MEMO_TEXT = 256        # a group's masks are memoised for member values up to this many characters,
_MEMO_SIZE = 16384      # at most this many per group (the memo empties when full)


class _Field:
    """One field sub-expression and the atoms on it, as scenario bit masks."""

    __slots__ = ("node", "eq", "has", "all_mask")

    def __init__(self, node):
        self.node = node
        self.eq: dict[str, int] = {}
        self.has: dict[str, int] = {}
        self.all_mask = 0

    def code(self, i: int, ns: dict, value: str) -> list[str]:
        """Statements OR-ing into `m` the masks of this field's true atoms; its value is `value`, kept in `_v{i}`;
        `i` names this field's tables in the namespace `ns`."""
        v = f"_v{i}"
        out = [f"    {v} = {value}", f"    if {v}.__class__ is not str:", f"        m |= {self.all_mask}",
               "    else:"]
        if self.eq:
            ns[f"_eq{i}"] = self.eq
            out.append(f"        m |= _eq{i}.get({v}, 0)")
        literals = list(self.has)
        rset = _literal_set(literals) if len(literals) > _SET_THRESHOLD else None
        if rset is not None:
            (ns[f"_any{i}"], ns[f"_set{i}"]), ns[f"_masks{i}"] = rset, tuple(self.has[lit] for lit in literals)
            has_mask = 0
            for mask in self.has.values():
                has_mask |= mask
            out += ["        try:",
                    f"            if _any{i}({v}):",
                    f"                for _j in _set{i}({v}):",
                    f"                    m |= _masks{i}[_j]",
                    "        except UnicodeEncodeError:",    # lone surrogates: every substring atom may hold
                    f"            m |= {has_mask}"]
        else:
            for lit in literals:
                out += [f"        if {lit!r} in {v}:", f"            m |= {self.has[lit]}"]
        if len(out) == 4:
            out.append("        pass")
        return out

    def memo_worthy(self) -> bool:
        """Whether memoising this field's mask saves work: a helper to run or substrings to look for."""
        return bool(self.has) or not isinstance(self.node, Member)


def _reads(node) -> list | None:
    """The members of the event a field reads (`evt.A.b` chains with constant names, no `?.`), or None when the
    field has another shape (the whole event, a chain, anything but pure helper calls over members and
    constants: requirements.is_field admits only those, and the index then does without a memo)."""
    if isinstance(node, Const):
        return []
    if isinstance(node, Call):
        out: list = []
        for arg in node.args:
            reads = _reads(arg)
            if reads is None:
                return None
            out += reads
        return out
    base = node
    while isinstance(base, Member) and not base.optional and isinstance(base.prop, Const):
        base = base.obj
    if isinstance(node, Member) and isinstance(base, Ident) and base.name == "evt":
        return [node]
    return None


def _read_code(nodes: list, ctx, ns: dict) -> list[str]:
    """Statements computing each field into `_f{i}` as compile_fields does (FIELD_ERROR for one that raised),
    inline in the function that uses them; the generator's names go into `ns`."""
    cg = CodeGen(("evt",), ctx if ctx is not None else ExprContext())
    out = ["    v_evt = evt"]
    for i, node in enumerate(nodes):
        body, _typ = cg.gen(node)
        out += ["    try:", f"        _f{i} = {body}", "    except Exception:", f"        _f{i} = _ERR"]
    if cg.metered:
        out.insert(0, "    _b = _rt_Budget()")
    ns.update(cg.namespace)
    ns["_ERR"] = FIELD_ERROR
    return out


def _one_read(node):
    """The one event member a field is a function of, or None."""
    reads = _reads(node)
    if not reads or len({node_key(r) for r in reads}) != 1:
        return None
    return reads[0]


def _literal_set(literals: list[str]) -> tuple[Callable[[str], bool], Callable[[str], Any]] | None:
    """(any, which) for a str: whether one of the literals occurs, and the indices of those that do (None if no
    set can be built: plain `in` tests then). Rust's regex where the binding is present — one alternation
    answers `any` with its literal prefilter (0.1-0.25 µs, even for the 589 bad user agents), a RegexSet
    `which` —, else RE2's set for both (1.2 µs a field, and an encoding)."""
    if paula is not None and not any(_has_surrogate(lit) for lit in literals):
        try:
            patterns = [rust_literal(lit) for lit in literals]
            return paula.Regex("|".join(patterns)).is_match, paula.RegexSet(patterns).matches
        except ValueError:
            pass
    rset = re2._re2.Set(_UNANCHORED, _OPTIONS)
    for lit in literals:
        rset.Add(literal_pattern(lit).encode("utf-8", "surrogateescape"))
    if not rset.Compile():
        return None
    return (lambda text: True), (lambda text: rset.Match(text.encode("utf-8", "surrogateescape")))


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


class FilterIndex:
    """Built once from the scenarios' compiled filters (in scenario order); `candidates(evt)` is a bit mask."""

    def __init__(self, filters: Sequence[Any]):
        self.size = len(filters)
        self.always = 0
        self.indexed = 0
        fields: dict[Any, _Field] = {}
        ctx = None
        for i, filt in enumerate(filters):
            bit = 1 << i
            clause = self._clause(filt)
            if clause is None:
                self.always |= bit
                continue
            self.indexed += 1
            ctx = filt.ctx
            for atom in clause:
                f = fields.get(atom.field)
                if f is None:
                    f = fields[atom.field] = _Field(atom.node)
                table = f.eq if atom.kind == "eq" else f.has
                table[atom.literal] = table.get(atom.literal, 0) | bit
                f.all_mask |= bit
        self.candidates = self._generate(list(fields.values()), ctx)

    def _generate(self, fields: list[_Field], ctx) -> Callable[[Any], int]:
        if not fields:
            always = self.always
            return lambda evt: always
        groups: dict[Any, tuple[Any, list[_Field]]] = {}
        plain: list[_Field] = []
        for f in fields:
            read = _one_read(f.node)
            if read is None:
                plain.append(f)
            else:
                groups.setdefault(node_key(read), (read, []))[1].append(f)
        for key, (read, members) in list(groups.items()):
            if len(members) == 1 and not members[0].memo_worthy():
                plain.append(members[0])
                del groups[key]
        ns: dict[str, Any] = {"UnicodeEncodeError": UnicodeEncodeError}   # not among generated builtins
        reads = [read for read, _members in groups.values()]
        lines = ["def _candidates(evt):", *_read_code([f.node for f in plain] + reads, ctx, ns), f"    m = {self.always}"]
        n = 0
        for j, f in enumerate(plain):
            lines += f.code(n, ns, f"_f{j}")
            n += 1
        for g, (_read, members) in enumerate(groups.values()):
            body = [f"def _group{g}(evt):", f"    _gv = _gread{g}(evt)", "    m = 0"]
            for j, f in enumerate(members):
                body += f.code(n, ns, f"_gv[{j}]")
                n += 1
            body.append("    return m")
            ns[f"_gread{g}"] = compile_fields([f.node for f in members], where=_WHERE, ctx=ctx)
            ns[f"_group{g}"] = generated_function("\n".join(body) + "\n", ns, f"_group{g}", "<filter index>")
            ns[f"_memo{g}"] = {}
            r = f"_r{g}"
            lines += [f"    {r} = _f{len(plain) + g}",
                      f"    if {r}.__class__ is str and len({r}) <= {_MEMO_TEXT}:",
                      f"        _g = _memo{g}.get({r})",
                      "        if _g is None:",
                      f"            _g = _group{g}(evt)",
                      f"            if len(_memo{g}) >= {_MEMO_SIZE}:",
                      f"                _memo{g}.clear()",
                      f"            _memo{g}[{r}] = _g",
                      "        m |= _g",
                      "    else:",
                      f"        m |= _group{g}(evt)"]
        lines.append("    return m")
        return generated_function("\n".join(lines) + "\n", ns, "_candidates", "<filter index>")

    @staticmethod
    def _clause(filt: Any):
        """The filter's necessary clause, or None (no filter, an opaque callable, nothing understood)."""
        tree = getattr(filt, "tree", None)
        if tree is None or getattr(filt, "params", ("evt",)) != ("evt",):
            return None
        return requirement(tree, CodeGen(("evt",), filt.ctx))
