"""AST -> Python source text. User text never reaches Python's parser: only code built here from the AST,
with literals emitted through `repr` (str/int/bool/None) or bound as named constants in the namespace.

`gen(node)` returns `(code, type)`; the static type (see typeinfo) lets the generator emit direct Python
operations (`evt.Meta.get('x', '')`, `a == 'b'`, `x in FROZENSET`) instead of generic runtime helpers.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ExprTextError
from . import runtime
from .context import ExprContext
from .nodes import (ArrayLit, Binary, Builtin, Call, Chain, Conditional, Const, Ident, Let, MapLit, Member,
                    MethodCall, Node, Pointer, Sequence, Slice, Unary)
from .ops import OpsMixin
from .parser import PREDICATES
from .predicates import PredicateMixin
from .registry import REGISTRY
from .typeinfo import CLOSED_STRUCTS, METHOD_NAMES, PARAM_TYPES, STRUCT_FIELDS, field_type, method

__all__ = ["CodeGen", "CompileError", "NOT_CONST"]

NOT_CONST = object()
# Helpers that write into their second argument (CrowdSec's documented writers besides SetMeta/SetParsed).
WRITERS = frozenset({"ParseKV", "ParseKVLax", "UnmarshalJSON"})
# Helpers whose result may be larger than their arguments, or copies them: charged to the evaluation's budget.
GROWING = frozenset({
    "repeat", "Replace", "ReplaceAll", "replace", "Sprintf", "concat", "flatten", "Split", "SplitN", "SplitAfter",
    "SplitAfterN", "split", "splitAfter", "Fields", "toJSON", "ToJsonString", "string", "join", "Join", "keys",
    "values", "sort", "reverse", "uniq", "Distinct", "QueryEscape", "PathEscape", "fromJSON", "JsonExtractSlice",
    "JsonExtractObject", "ParseUri", "ParseQuery", "ExtractQueryParam", "Flatten", "FlattenDistinct", "FileMap"})


class CompileError(ExprTextError):
    """A semantic error (unknown function, wrong arity, bad regexp...) at an offset of the text."""


def _type_name(typ: str) -> str:
    """A static type as an error message names it (Go's names: string, map, array)."""
    if typ in STRUCT_FIELDS:
        return typ
    return {"str": "string", "strmap": "map[string]string", "dict": "map", "list": "array"}.get(typ, typ)


def type_of_value(value: Any) -> str:
    if value is None:
        return "nil"
    return {str: "str", bool: "bool", int: "int", float: "float", list: "list", tuple: "list",
            dict: "dict"}.get(type(value), "any")


class CodeGen(OpsMixin, PredicateMixin):
    """Generates the body expression of one compiled function."""

    def __init__(self, params: tuple[str, ...], ctx: ExprContext):
        self.ctx = ctx
        self.namespace: dict[str, Any] = {f"_rt_{k}": v for k, v in runtime.RUNTIME_NAMES.items()}
        self.params = {p: (f"v_{p}", PARAM_TYPES.get(p, "any")) for p in params}
        self.lets: list[dict[str, tuple[str, str]]] = []
        self.pointers: list[tuple[str, str, str]] = []     # (item var, index var, acc var)
        self._counter = 0
        self._folded: dict[int, Any] = {}
        self.metered = False            # the code charges `_b`, the evaluation's runtime.Budget
        self._fold_left = 8 * runtime.MAX_STRING     # elements and characters folding may build at load

    def charge(self, code: str) -> str:
        """`code` with its value counted against the evaluation's budget."""
        self.metered = True
        return f"_rt_charge(_b, {code})"

    # --- names and constants -------------------------------------------------------------------------
    def temp(self, stem: str = "t") -> str:
        self._counter += 1
        return f"_{stem}{self._counter}"

    def bind(self, value: Any, stem: str = "k") -> str:
        """Put a load-time value in the function's globals and return its name."""
        name = self.temp(stem)
        self.namespace[name] = value
        return name

    def literal(self, value: Any) -> str:
        if type(value) is str and len(value) > 4096:
            return self.bind(value, "s")          # keeps the generated source small
        if value is None or type(value) in (str, int, bool):
            return repr(value)
        if type(value) is float and math.isfinite(value):
            return repr(value)
        return self.bind(value)

    def helper(self, name: str):
        """The helper `name` of the registry, or one the context adds (None: no such function)."""
        return REGISTRY.get(name) or self.ctx.helpers.get(name)

    def helper_ref(self, name: str) -> str:
        key = f"_h_{name}"
        if key not in self.namespace:
            h = self.helper(name)
            if h.needs_ctx:
                ctx, fn = self.ctx, h.fn
                self.namespace[key] = lambda *args: fn(ctx, *args)
            else:
                self.namespace[key] = h.fn
        return key

    # --- constant folding ----------------------------------------------------------------------------
    def fold(self, node: Node) -> Any:
        """The node's value if it is a load-time constant, else NOT_CONST."""
        key = id(node)
        if key not in self._folded:
            if isinstance(node, Const):
                value = node.value
            elif self._fold_left <= 0:
                value = NOT_CONST      # what one expression folds at load is bounded too: the rest runs metered
            else:
                value = self._fold(node)
                if value is not NOT_CONST:
                    size = runtime.weight(value, runtime.MAX_STRING)
                    self._fold_left -= size
                    if runtime.oversized(value) or self._fold_left < 0:
                        value = NOT_CONST
            self._folded[key] = value
        return self._folded[key]

    def _fold(self, node: Node) -> Any:
        if isinstance(node, Const):
            return node.value
        if isinstance(node, ArrayLit):
            values = [self.fold(n) for n in node.items]
            return NOT_CONST if any(v is NOT_CONST for v in values) else values
        if isinstance(node, Call):
            h = self.helper(node.name)
            if h is None or not h.pure or h.needs_ctx:
                return NOT_CONST
            values = [self.fold(n) for n in node.args]
            if any(v is NOT_CONST for v in values):
                return NOT_CONST
            try:
                return h.fn(*values)
            except Exception:
                return NOT_CONST       # leave the error to run time, where Go would raise it too
        if isinstance(node, (Unary, Binary)):
            return self.fold_op(node)
        return NOT_CONST

    # --- dispatch ------------------------------------------------------------------------------------
    def gen(self, node: Node) -> tuple[str, str]:
        value = self.fold(node)
        if value is not NOT_CONST and type(value) in (str, int, float, bool, type(None)):
            return self.literal(value), type_of_value(value)
        method = getattr(self, "gen_" + type(node).__name__)
        return method(node)

    def gen_Const(self, node: Const) -> tuple[str, str]:
        return self.literal(node.value), type_of_value(node.value)

    def gen_Ident(self, node: Ident) -> tuple[str, str]:
        for scope in reversed(self.lets):
            if node.name in scope:
                return scope[node.name]
        if node.name in self.params:
            return self.params[node.name]
        raise CompileError(f"unknown name {node.name}", node.pos)

    def gen_Pointer(self, node: Pointer) -> tuple[str, str]:
        if not self.pointers:
            raise CompileError("cannot use pointer accessor outside predicate", node.pos)
        item, index, acc = self.pointers[-1]
        if node.name == "":
            return item, "any"
        if node.name == "index":
            return index, "int"
        if node.name == "acc" and acc:
            return acc, "any"
        raise CompileError(f"unknown pointer #{node.name}", node.pos)

    def gen_ArrayLit(self, node: ArrayLit) -> tuple[str, str]:
        value = self.fold(node)
        if value is not NOT_CONST:
            return self.bind(value), "list"
        return "[" + ", ".join(self.gen(n)[0] for n in node.items) + "]", "list"

    def gen_MapLit(self, node: MapLit) -> tuple[str, str]:
        items = ", ".join(f"{self.gen(k)[0]}: {self.gen(v)[0]}" for k, v in node.pairs)
        return "{" + items + "}", "dict"

    def gen_Conditional(self, node: Conditional) -> tuple[str, str]:
        cond, _ = self.gen(node.cond)
        (a, ta), (b, tb) = self.gen(node.then), self.gen(node.other)
        return f"({a} if {cond} else {b})", ta if ta == tb else "any"

    def gen_Let(self, node: Let) -> tuple[str, str]:
        if node.name in self.params:
            raise CompileError(f"cannot redeclare {node.name}", node.pos)
        if self.helper(node.name) is not None or node.name in PREDICATES:
            raise CompileError(f"cannot redeclare function {node.name}", node.pos)
        if any(node.name in scope for scope in self.lets):
            raise CompileError(f"cannot redeclare variable {node.name}", node.pos)
        value, vtype = self.gen(node.value)
        name = self.temp("l")
        self.lets.append({node.name: (name, vtype)})
        try:
            body, btype = self.gen(node.body)
        finally:
            self.lets.pop()
        return f"(({name} := {value}), {body})[1]", btype

    def gen_Sequence(self, node: Sequence) -> tuple[str, str]:
        parts = [self.gen(n) for n in node.items]
        return "(" + ", ".join(code for code, _ in parts) + ")[-1]", parts[-1][1]

    # --- member access, chains -----------------------------------------------------------------------
    def gen_Member(self, node: Member) -> tuple[str, str]:
        return self.access(node, *self.gen(node.obj))

    def gen_MethodCall(self, node: MethodCall) -> tuple[str, str]:
        return self.access(node, *self.gen(node.obj))

    def gen_Slice(self, node: Slice) -> tuple[str, str]:
        return self.access(node, *self.gen(node.obj))

    def gen_Chain(self, node: Chain) -> tuple[str, str]:
        steps: list[Node] = []
        base = node.node
        while isinstance(base, (Member, MethodCall, Slice)):
            steps.append(base)
            base = base.obj
        steps.reverse()
        return self._chain(*self.gen(base), steps)

    def _chain(self, code: str, typ: str, steps: list[Node]) -> tuple[str, str]:
        for k, step in enumerate(steps):
            if getattr(step, "optional", False):
                tmp = self.temp()
                first, ftype = self.access(step, tmp, typ)
                rest, rtype = self._chain(first, ftype, steps[k + 1:])
                return f"(None if ({tmp} := {code}) is None else {rest})", rtype
            code, typ = self.access(step, code, typ)
        return code, typ

    def access(self, node: Node, obj: str, otype: str) -> tuple[str, str]:
        """Code for one postfix step (member, method call, slice) applied to already-generated `obj`."""
        if isinstance(node, Slice):
            return self._slice(node, obj, otype)
        if isinstance(node, MethodCall):
            return self._method(node, obj, otype)
        key = self.fold(node.prop)
        if type(key) is str:
            ftype = field_type(otype, key)
            if ftype is not None:
                return f"{obj}.{key}", ftype
            if otype == "strmap":
                return f"{obj}.get({key!r}, '')", "str"
            if otype in CLOSED_STRUCTS and key not in CLOSED_STRUCTS[otype]:
                raise CompileError(f"type {otype} has no field {key}", node.pos)
        prop, _ = self.gen(node.prop)
        return f"_rt_member({obj}, {prop})", "any"

    def _method(self, node: MethodCall, obj: str, otype: str) -> tuple[str, str]:
        """Only an allowlisted method (typeinfo.STRUCT_METHODS); on a value of unknown type, checked at run time."""
        name = node.name
        if name not in METHOD_NAMES:
            raise CompileError(f"unknown method {name}: an expression may call only "
                               f"{', '.join(sorted(METHOD_NAMES))}", node.pos)
        spec = method(otype, name)
        if spec is None and otype != "any":
            raise CompileError(f"type {_type_name(otype)} has no method {name}", node.pos)
        if spec is not None and len(node.args) != spec[1]:
            raise CompileError(f"{name}: wrong number of arguments: got {len(node.args)}, want {spec[1]}",
                               node.pos)
        args = [self.gen(a)[0] for a in node.args]
        if spec is not None:
            return f"{obj}.{name}({', '.join(args)})", spec[0]
        return f"_rt_call({', '.join([obj, repr(name)] + args)})", "any"

    def _slice(self, node: Slice, obj: str, otype: str) -> tuple[str, str]:
        start = None if node.start is None else self.fold(node.start)
        stop = None if node.stop is None else self.fold(node.stop)
        simple = all(v is None or (type(v) is int and v >= 0) for v in (start, stop))
        if simple and otype in ("str", "list"):
            return self.charge(f"{obj}[{'' if start is None else start}:{'' if stop is None else stop}]"), otype
        a = "None" if node.start is None else self.gen(node.start)[0]
        b = "None" if node.stop is None else self.gen(node.stop)[0]
        return self.charge(f"_rt_slice_({obj}, {a}, {b})"), otype if otype in ("str", "list") else "any"

    # --- calls ---------------------------------------------------------------------------------------
    def gen_Call(self, node: Call) -> tuple[str, str]:
        h = self.helper(node.name)
        if h is None:
            raise CompileError(f"unknown func {node.name}", node.pos)
        n = len(node.args)
        if n < h.min_args or (h.max_args is not None and n > h.max_args):
            want = (f"{h.min_args}" if h.max_args == h.min_args else
                    f"{h.min_args} to {h.max_args}" if h.max_args is not None else f"at least {h.min_args}")
            raise CompileError(f"{node.name}: wrong number of arguments: got {n}, want {want}", node.pos)
        if h.specialise is not None:
            special = h.specialise(node, self)
            if special is not None:
                return special
        args = [self.gen(a)[0] for a in node.args]
        if node.name in WRITERS:
            args[1] = self._writer_target(node.name, node.args[1], args[1])
        code = f"{self.helper_ref(node.name)}({', '.join(args)})"
        return (self.charge(code) if node.name in GROWING else code), h.returns

    def _writer_target(self, name: str, target: Node, code: str) -> str:
        """CrowdSec's writers fill evt.Unmarshaled (a map[string]interface{}): never a string map or an alert."""
        base = target.node if isinstance(target, Chain) else target
        owner = self.gen(base.obj)[1] if isinstance(base, Member) else ""
        typ = self.gen(target)[1]
        if (typ not in ("dict", "any") or (owner in STRUCT_FIELDS and owner != "Event")
                or self.params.get("evt", ("", ""))[1] != "Event"):
            raise CompileError(f"{name}: the target must be evt.Unmarshaled or a map in it", target.pos)
        return f"_rt_writable({code}, {self.params['evt'][0]})"

    def gen_Builtin(self, node: Builtin) -> tuple[str, str]:
        return self.gen_predicate_builtin(node)
