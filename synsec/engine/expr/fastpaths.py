"""One-operation forms of the hub's `any(File('f'), {...})` shapes, built once at load.

`{X endsWith #}` -> `X.endswith(tuple)`; `{X startsWith #}` likewise; `{X == #}` -> frozenset membership;
`{X contains #}`, `{Upper(X) contains Upper(#)}`, `{X matches #}` -> one RE2 alternation (over the case-folded
lines for Upper/Lower); `{IpInRange(X, #)}` -> a sorted-interval lookup. A leading `len(#) > 0 &&` guard just
drops empty lines. Anything else falls back to the generic loop, which gives the same answers.
"""

from __future__ import annotations

from .nodes import Binary, Builtin, Call, Const, Node, Pointer, Predicate
from .regex import Regex, RegexError, literal_pattern

__all__ = ["specialise_any", "any_file_shape", "data_file", "regexp_file", "alternation"]


def data_file(cg, node: Node) -> list[str] | None:
    """The lines of `File('name')` when node is that call with a literal name; load error if unknown."""
    from .codegen import CompileError
    if not (isinstance(node, Call) and node.name == "File" and len(node.args) == 1):
        return None
    name = cg.fold(node.args[0])
    if type(name) is not str:
        return None
    if name not in cg.ctx.files:
        raise CompileError(f"data file {name!r} (type string) is not loaded", node.args[0].pos)
    return list(cg.ctx.files[name])


def regexp_file(cg, name_node: Node) -> list[str] | None:
    from .codegen import CompileError
    name = cg.fold(name_node)
    if type(name) is not str:
        return None
    if name not in cg.ctx.regexps:
        raise CompileError(f"data file {name!r} (type regexp) is not loaded", name_node.pos)
    return list(cg.ctx.regexps[name])


def alternation(patterns: list[str]) -> Regex | None:
    """One RE2 matching when any pattern matches; None when a pattern (or the union) does not compile."""
    try:
        for p in patterns:
            Regex(p)
        return Regex("|".join(f"(?:{p})" for p in patterns))
    except RegexError:
        return None


def _is_item(node: Node) -> bool:
    return isinstance(node, Pointer) and node.name == ""


def _mentions_pointer(node: object) -> bool:
    if isinstance(node, Pointer):
        return True
    if isinstance(node, tuple):
        return any(_mentions_pointer(n) for n in node)
    if isinstance(node, Node):
        return any(_mentions_pointer(getattr(node, f)) for f in node.__slots__ if f != "pos")
    return False


def _strip_guard(body: Node) -> tuple[Node, bool]:
    """`len(#) > 0 && P` -> (P, True)."""
    if isinstance(body, Binary) and body.op == "and":
        g = body.left
        if (isinstance(g, Binary) and g.op == ">" and isinstance(g.left, Call) and g.left.name == "len"
                and len(g.left.args) == 1 and _is_item(g.left.args[0])
                and isinstance(g.right, Const) and g.right.value == 0):
            return body.right, True
    return body, False


def _folded(node: Node, fold_name: str | None) -> Node | None:
    """X for `Upper(X)` when fold_name is 'Upper'; X itself when fold_name is None."""
    if fold_name is None:
        return node
    if isinstance(node, Call) and node.name == fold_name and len(node.args) == 1:
        return node.args[0]
    return None


def _shape(body: Node) -> tuple[str, Node, str | None] | None:
    """(kind, X, case-fold helper) for the supported predicate bodies, else None."""
    if isinstance(body, Call) and body.name == "IpInRange" and len(body.args) == 2 and _is_item(body.args[1]):
        return "ip", body.args[0], None
    if not isinstance(body, Binary):
        return None
    left, right = body.left, body.right
    if body.op == "==" and _is_item(left):
        left, right = right, left
    if body.op in ("==", "endsWith", "startsWith") and _is_item(right):
        return body.op, left, None
    if body.op == "==":
        for fold_name in ("Upper", "Lower"):
            a, b = _folded(left, fold_name), _folded(right, fold_name)
            if a is not None and b is not None and _is_item(a) != _is_item(b):
                return "==", (b if _is_item(a) else a), fold_name
    if body.op in ("contains", "matches"):
        for fold_name in (None, "Upper", "Lower"):
            item, subject = _folded(right, fold_name), _folded(left, fold_name)
            if item is not None and subject is not None and _is_item(item):
                return body.op, subject, fold_name
    return None


def any_file_shape(node: Builtin, cg) -> tuple[str, Node, str | None, list[str]] | None:
    """(kind, X, case-fold helper, lines) of `any(File('f'), {X op #})` in a supported shape, else None."""
    if len(node.args) != 2 or not isinstance(node.args[1], Predicate):
        return None
    lines = data_file(cg, node.args[0])
    if lines is None:
        return None
    body, guarded = _strip_guard(node.args[1].body)
    shape = _shape(body)
    if shape is None:
        return None
    kind, subject_node, fold_name = shape
    if _mentions_pointer(subject_node):
        return None
    if guarded:
        lines = [line for line in lines if len(line) > 0]
    return kind, subject_node, fold_name, lines


def specialise_any(node: Builtin, cg) -> tuple[str, str] | None:
    shape = any_file_shape(node, cg)
    if shape is None:
        return None
    kind, subject_node, fold_name, lines = shape
    if not lines:
        return "False", "bool"
    return _emit(cg, kind, subject_node, fold_name, lines)


def _emit(cg, kind: str, subject_node: Node, fold_name: str | None, lines: list[str]):
    from .helpers_net import IpRangeSet
    from .helpers_str import go_lower, go_upper
    subject, stype = cg.gen(subject_node)
    text = subject if stype == "str" else f"_rt_as_str({subject})"
    if kind == "ip":
        return f"{cg.bind(IpRangeSet(lines), 'ips')}.contains({text})", "bool"
    if kind == "==" and fold_name is not None:
        fold = go_upper if fold_name == "Upper" else go_lower
        fs = cg.bind(frozenset(fold(line) for line in lines), "set")
        return f"({cg.helper_ref(fold_name)}({subject}) in {fs})", "bool"
    if kind == "==":
        fs = cg.bind(frozenset(lines), "set")
        return (f"({subject} in {fs})", "bool") if stype == "str" else (f"_rt_in_({subject}, {fs})", "bool")
    if kind in ("endsWith", "startsWith"):
        method = "endswith" if kind == "endsWith" else "startswith"
        return f"{text}.{method}({cg.bind(tuple(lines), 'tup')})", "bool"
    if fold_name is not None:
        fold = go_upper if fold_name == "Upper" else go_lower
        lines = [fold(line) for line in lines]
        text = f"{cg.helper_ref(fold_name)}({subject})"
    patterns = [literal_pattern(line) for line in lines] if kind == "contains" else lines
    rx = alternation(patterns)
    if rx is None:
        return None if kind == "matches" else _literal_fallback(cg, text, lines)
    return f"{cg.bind(rx, 're')}.search({text})", "bool"


def _literal_fallback(cg, text: str, lines: list[str]) -> tuple[str, str]:
    tup = cg.bind(tuple(lines), "tup")
    return f"(lambda _s: any(_l in _s for _l in {tup}))({text})", "bool"
