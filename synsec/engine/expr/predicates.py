"""Predicate builtins (`any(list, {# > 1})` ...): generator expressions over the collection, with `#`
bound to the item; `any` over a data file first tries the one-operation fast paths in `fastpaths`."""

from __future__ import annotations

from .nodes import Builtin, Node, Pointer, Predicate

__all__ = ["PredicateMixin"]

_GEN = {
    "any": "any({body} for {tgt} in {src})",
    "all": "all({body} for {tgt} in {src})",
    "none": "(not any({body} for {tgt} in {src}))",
    "one": "(sum(1 for {tgt} in {src} if {body}) == 1)",
    "filter": "[{it} for {tgt} in {src} if {body}]",
    "map": "[{body} for {tgt} in {src}]",
    "count": "sum(1 for {tgt} in {src} if {body})",
    "sum": "sum({body} for {tgt} in {src})",
    "find": "next(({it} for {tgt} in {src} if {body}), None)",
    "findLast": "next(({it} for {tgt} in reversed(list({src})) if {body}), None)",
}
_TYPES = {"any": "bool", "all": "bool", "none": "bool", "one": "bool", "filter": "list", "map": "list",
          "count": "int", "findIndex": "int", "findLastIndex": "int", "groupBy": "dict", "sortBy": "list"}


def _uses_index(node: object) -> bool:
    if isinstance(node, Pointer):
        return node.name == "index"
    if isinstance(node, tuple):
        return any(_uses_index(n) for n in node)
    if isinstance(node, Node):
        return any(_uses_index(getattr(node, f)) for f in node.__slots__ if f != "pos")
    return False


class PredicateMixin:
    """Mixed into CodeGen."""

    def gen_predicate_builtin(self, node: Builtin) -> tuple[str, str]:
        from .codegen import CompileError
        from .fastpaths import specialise_any
        if node.name == "any":
            special = specialise_any(node, self)
            if special is not None:
                return special
        coll, ctype = self.gen(node.args[0])
        src = self.charge(coll if ctype == "list" else f"_rt_iter_({coll})")     # every walk is paid for
        if len(node.args) == 1:                      # count(list) / sum(list)
            if node.name == "count":
                return f"sum(1 for _x in {src} if _x is True)", "int"
            if node.name == "sum":
                return f"sum({src})", "any"
            raise CompileError(f"{node.name} needs a predicate", node.pos)
        pred = node.args[1]
        extra = node.args[2:]
        assert isinstance(pred, Predicate)
        it, ix, acc = self.temp("it"), self.temp("ix"), self.temp("acc")
        self.pointers.append((it, ix, acc if node.name == "reduce" else ""))
        try:
            body, btype = self.gen(pred.body)
        finally:
            self.pointers.pop()
        hoisted = ":=" in src
        if hoisted:
            outer, src = src, self.temp("c")
        code, typ = self._predicate_code(node, src, it, ix, acc, body, btype, extra)
        if hoisted:
            code = f"(lambda {src}: {code})({outer})"
        return code, typ

    def _predicate_code(self, node: Builtin, src: str, it: str, ix: str, acc: str, body: str, btype: str,
                        extra: tuple[Node, ...]) -> tuple[str, str]:
        name = node.name
        if name in _GEN:
            tgt = it
            if _uses_index(node.args[1]):
                tgt, src = f"{ix}, {it}", f"enumerate({src})"
            typ = btype if name == "sum" else _TYPES.get(name, "any")
            return _GEN[name].format(body=body, it=it, tgt=tgt, src=src), typ
        lam = f"(lambda {it}, {ix}: {body})"
        if name == "findIndex":
            return f"next(({ix} for {ix}, {it} in enumerate({src}) if {body}), -1)", "int"
        if name == "findLastIndex":
            return (f"next(({ix} for {ix}, {it} in reversed(list(enumerate({src}))) if {body}), -1)", "int")
        if name == "groupBy":
            return f"_rt_group_by({src}, {lam})", "dict"
        if name == "sortBy":
            order = self.gen(extra[0])[0] if extra else "'asc'"
            return f"_rt_sort_by({src}, {lam}, {order})", "list"
        if name == "reduce":
            init = self.gen(extra[0])[0] if extra else "_rt_NO_INIT"
            return f"_rt_reduce({src}, (lambda {acc}, {it}, {ix}: {body}), {init})", "any"
        from .codegen import CompileError
        raise CompileError(f"unsupported builtin {name}", node.pos)
