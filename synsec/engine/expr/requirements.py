"""What must hold of an event for a filter to be true: a cheap necessary condition, found at load.

`requirement(tree, cg)` reads a filter's syntax tree and returns its best *clause*: a set of atoms at least one
of which is true whenever the filter is true (a disjunction implied by the filter). An atom is

* `Atom("eq", F, v)`:  the value of the sub-expression F equals the string v, or
* `Atom("has", F, s)`: the value of F is a string containing s,

where F is a *field*: a sub-expression that reads only the event, through members and pure helpers
(`evt.Meta.http_path`, `Upper(PathUnescape(evt.Meta.http_path))`). The filter index evaluates each distinct
field once per event and checks all atoms of all scenarios together (a dict lookup per `eq` field, one RE2 set
per `has` field), so only scenarios whose clause has a true atom run their full filter.

Conservative by construction: `None` (no clause) whenever the shape is not understood; `or` needs a clause on
both sides; `not` gives none. Case folding is never assumed: `Upper(X) contains 'A'` is an atom on the field
`Upper(X)`, with the literal folded at load by the same helper the filter uses.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .codegen import NOT_CONST
from .fastpaths import any_file_shape, regexp_file
from .nodes import ArrayLit, Binary, Builtin, Call, Chain, Const, Ident, Member, Node
from .registry import REGISTRY

__all__ = ["Atom", "Clause", "requirement", "node_key", "is_field"]

_STRING_TESTS = ("contains", "startsWith", "endsWith")
# Fields whose equality tells little apart on a typical stream: any other clause is preferred to these. Most
# web requests are GETs of non-static pages, so `static_ressource == 'false'` or `verb in ['GET', 'HEAD']` would
# make a scenario a candidate for most lines (http-probing's `http_status in [...]` is the selective clause).
_WEAK_FIELDS = frozenset({"log_type", "service", "type", "source", "static_ressource", "verb", "http_verb"})


@dataclasses.dataclass(frozen=True)
class Atom:
    kind: str      # "eq" | "has"
    field: Any     # node_key of the field sub-expression (hashable, positions dropped)
    literal: str
    node: Node = dataclasses.field(compare=False, hash=False)   # one field node, to compile


Clause = frozenset  # of Atom


def node_key(node: Any) -> Any:
    """A hashable structural key of a syntax tree, ignoring source positions."""
    if isinstance(node, Node):
        return (type(node).__name__,) + tuple(node_key(getattr(node, f.name))
                                              for f in dataclasses.fields(node) if f.name != "pos")
    if isinstance(node, tuple):
        return tuple(node_key(n) for n in node)
    return node


def is_field(node: Node, param: str = "evt") -> bool:
    """True when node reads only `param`, through members, constants and pure helpers."""
    if isinstance(node, Ident):
        return node.name == param
    if isinstance(node, Const):
        return True
    if isinstance(node, Chain):
        return is_field(node.node, param)
    if isinstance(node, Member):
        return is_field(node.obj, param) and isinstance(node.prop, Const)
    if isinstance(node, Call):
        h = REGISTRY.get(node.name)
        return (h is not None and h.pure and not h.needs_ctx and bool(node.args)
                and all(is_field(a, param) for a in node.args)
                and any(not isinstance(a, Const) for a in node.args))
    return False


def requirement(tree: Node, cg) -> Clause | None:
    """The most selective clause implied by the filter `tree`, or None. `cg` folds constants, finds files."""
    clauses = _clauses(tree, cg)
    if not clauses:
        return None
    return max(clauses, key=_score)


def _score(clause: Clause) -> tuple[int, int]:
    def atom_score(a: Atom) -> int:
        if a.kind == "has":
            return 4 if len(a.literal) >= 3 else 2
        name = a.field[-2][-1] if a.field[0] == "Member" else None   # ("Member", obj, ("Const", name), opt)
        return 1 if name in _WEAK_FIELDS else 3
    return min(atom_score(a) for a in clause), -len(clause)


def _clauses(node: Node, cg) -> list[Clause]:
    """A conjunction of clauses implied by node (empty: nothing known)."""
    if isinstance(node, Binary) and node.op == "and":
        return _clauses(node.left, cg) + _clauses(node.right, cg)
    if isinstance(node, Binary) and node.op == "or":
        left, right = _clauses(node.left, cg), _clauses(node.right, cg)
        if not left or not right:
            return []
        return [max(left, key=_score) | max(right, key=_score)]
    if isinstance(node, Chain):
        return _clauses(node.node, cg)
    clause = _atoms(node, cg)
    return [clause] if clause else []


def _const_str(node: Node, cg) -> str | None:
    value = cg.fold(node)
    return value if type(value) is str else None


def _atoms(node: Node, cg) -> Clause | None:
    if isinstance(node, Builtin) and node.name == "any":
        return _any_file(node, cg)
    if isinstance(node, Call) and node.name == "RegexpInFile" and len(node.args) == 2:
        if not is_field(node.args[0]):
            return None
        patterns = regexp_file(cg, node.args[1])
        return _matches(node.args[0], patterns, cg) if patterns is not None else None
    if not isinstance(node, Binary):
        return None
    left, right, op = node.left, node.right, node.op
    if op == "==" and _const_str(left, cg) is not None:
        left, right = right, left
    if not is_field(left) or cg.fold(left) is not NOT_CONST:
        return None
    if op == "in" and isinstance(right, ArrayLit):
        values = [_const_str(item, cg) for item in right.items]
        if not values or any(v is None for v in values):
            return None
        return frozenset(Atom("eq", node_key(left), v, left) for v in values)
    literal = _const_str(right, cg)
    if literal is None:
        return None
    if op == "==":
        return frozenset({Atom("eq", node_key(left), literal, left)})
    if op in _STRING_TESTS:
        return _has(left, [literal])
    if op == "matches":
        return _matches(left, [literal], cg)
    return None


def _has(field: Node, literals: list[str]) -> Clause | None:
    if not literals or any(lit == "" for lit in literals):   # "" is in every string: no information
        return None
    return frozenset(Atom("has", node_key(field), lit, field) for lit in literals)


def _matches(field: Node, patterns: list[str], cg) -> Clause | None:
    from ..grok.prefilter import required_literal
    literals = []
    for p in patterns:
        lit = required_literal(p)
        if lit is None:
            return None
        literals.append(lit)
    return _has(field, literals)


def _any_file(node: Builtin, cg) -> Clause | None:
    """`any(File('f'), {X op #})` over a data file: one atom per line of the file."""
    shape = any_file_shape(node, cg)
    if shape is None:
        return None
    kind, subject, fold_name, lines = shape
    if kind == "ip" or not is_field(subject) or not lines:
        return None
    if fold_name is not None:
        from .helpers_str import go_lower, go_upper
        fold = go_upper if fold_name == "Upper" else go_lower
        lines = [fold(line) for line in lines]
        subject = Call(subject.pos, fold_name, (subject,))
    if kind == "==":
        return frozenset(Atom("eq", node_key(subject), line, subject) for line in lines)
    if kind == "matches":
        return _matches(subject, lines, cg)
    return _has(subject, lines)
