"""Unary and binary operators: constant folding and typed code generation (Go/expr semantics)."""

from __future__ import annotations

from typing import Any

from . import runtime
from .nodes import Binary, Const, Node, Unary
from .regex import RegexError, compile_regex
from .typeinfo import NUMERIC

__all__ = ["OpsMixin"]

_FOLD_BINARY = {
    "==": runtime.eq, "!=": runtime.ne, "+": runtime.add, "-": runtime.sub, "*": runtime.mul,
    "/": runtime.div, "%": runtime.mod, "**": runtime.pow_, "..": runtime.range_,
    "contains": runtime.contains, "startsWith": runtime.starts_with, "endsWith": runtime.ends_with,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
}
_COMPARE = {"<", ">", "<=", ">="}
_STRING_OPS = {"contains": "({r} in {l})", "startsWith": "{l}.startswith({r})",
               "endsWith": "{l}.endswith({r})"}
_STRING_RT = {"contains": "_rt_contains", "startsWith": "_rt_starts_with", "endsWith": "_rt_ends_with"}


class OpsMixin:
    """Mixed into CodeGen: needs gen/fold/literal/bind/temp."""

    def fold_op(self, node: Node) -> Any:
        from .codegen import NOT_CONST
        if isinstance(node, Unary):
            v = self.fold(node.operand)
            if v is NOT_CONST:
                return NOT_CONST
            try:
                return {"not": runtime.not_, "-": runtime.neg, "+": lambda x: x}[node.op](v)
            except Exception:
                return NOT_CONST
        if node.op in ("and", "or"):
            a = self.fold(node.left)
            if a is NOT_CONST or a.__class__ is not bool:
                return NOT_CONST
            if (node.op == "and") is not a:        # false and x / true or x
                return a
            b = self.fold(node.right)
            return b if b.__class__ is bool else NOT_CONST
        fn = _FOLD_BINARY.get(node.op)
        a = self.fold(node.left)
        b = self.fold(node.right) if a is not NOT_CONST else NOT_CONST
        if fn is None or b is NOT_CONST:
            return NOT_CONST
        try:
            return fn(a, b)
        except Exception:
            return NOT_CONST

    def gen_Unary(self, node: Unary) -> tuple[str, str]:
        code, typ = self.gen(node.operand)
        if node.op == "not":
            return (f"(not {code})", "bool") if typ == "bool" else (f"_rt_not_({code})", "bool")
        if node.op == "-":
            return (f"(-{code})", typ) if typ in NUMERIC else (f"_rt_neg({code})", "any")
        return code, typ

    def gen_Binary(self, node: Binary) -> tuple[str, str]:
        op = node.op
        if op in ("and", "or"):
            (a, ta), (b, tb) = self.gen(node.left), self.gen(node.right)
            return f"({a} {op} {b})", "bool" if ta == tb == "bool" else "any"
        if op == "??":
            (a, ta), (b, tb) = self.gen(node.left), self.gen(node.right)
            tmp = self.temp()
            return f"({tmp} if ({tmp} := {a}) is not None else {b})", ta if ta == tb else "any"
        if op == "in":
            return self._gen_in(node)
        if op == "matches":
            return self._gen_matches(node)
        (a, ta), (b, tb) = self.gen(node.left), self.gen(node.right)
        if op in ("==", "!="):
            return self._gen_eq(op, a, ta, b, tb), "bool"
        if op in _COMPARE:
            return f"({a} {op} {b})", "bool"
        if op in _STRING_OPS:
            if ta == "str" and tb == "str":
                return _STRING_OPS[op].format(l=a, r=b), "bool"
            return f"{_STRING_RT[op]}({a}, {b})", "bool"
        return self._gen_arith(op, a, ta, b, tb)

    def _gen_eq(self, op: str, a: str, ta: str, b: str, tb: str) -> str:
        if "nil" in (ta, tb):
            other = b if ta == "nil" else a
            return f"({other} is {'' if op == '==' else 'not '}None)"
        safe = ("str" in (ta, tb) or (ta == tb and ta in ("int", "float", "bool"))
                or (ta in NUMERIC and tb in NUMERIC))
        if safe:
            return f"({a} {op} {b})"
        return f"_rt_{'eq' if op == '==' else 'ne'}({a}, {b})"

    def _gen_arith(self, op: str, a: str, ta: str, b: str, tb: str) -> tuple[str, str]:
        if op == "+" and ta == tb == "str":
            return self.charge(f"({a} + {b})"), "str"
        if op in ("+", "-", "*") and ta in NUMERIC and tb in NUMERIC:
            return f"({a} {op} {b})", "int" if ta == tb == "int" else "float"
        name = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "**": "pow_", "..": "range_"}[op]
        typ = {"/": "float", "**": "float", "%": "int", "..": "list"}.get(op, "any")
        code = f"_rt_{name}({a}, {b})"
        return (self.charge(code) if op in ("+", "..") else code), typ

    def _gen_in(self, node: Binary) -> tuple[str, str]:
        from .codegen import NOT_CONST
        a, ta = self.gen(node.left)
        coll = self.fold(node.right)
        if coll is not NOT_CONST and isinstance(coll, list) and all(type(v) is str for v in coll):
            fs = self.bind(frozenset(coll), "set")
            return (f"({a} in {fs})", "bool") if ta == "str" else (f"_rt_in_({a}, {fs})", "bool")
        b, tb = self.gen(node.right)
        if tb in ("strmap", "dict") and ta == "str":
            return f"({a} in {b})", "bool"
        return f"_rt_in_({a}, {b})", "bool"

    def _gen_matches(self, node: Binary) -> tuple[str, str]:
        from .codegen import NOT_CONST, CompileError
        a, ta = self.gen(node.left)
        pattern = self.fold(node.right)
        if type(pattern) is str:
            try:
                rx = compile_regex(pattern)
            except RegexError as err:
                raise CompileError(f"invalid regexp {pattern!r}: {err}", node.right.pos) from None
            name = self.bind(rx, "re")
            subject = a if ta == "str" else f"_rt_as_str({a})"
            return f"{name}.search({subject})", "bool"
        if pattern is not NOT_CONST:
            raise CompileError("matches: pattern must be a string", node.right.pos)
        b, _ = self.gen(node.right)
        return f"_rt_matches({a}, {b})", "bool"


def is_const(node: Node) -> bool:
    return isinstance(node, Const)
