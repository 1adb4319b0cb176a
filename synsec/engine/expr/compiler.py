"""compile_expr / compile_predicate: parse once, generate Python source from the AST, compile() it once."""

from __future__ import annotations

import reprlib
from types import CodeType, FunctionType
from typing import Any, Callable

from ..errors import ExprError, ExprTextError, SynsecError, Where
from .codegen import CodeGen
from .context import ExprContext
from .parser import parse

__all__ = ["Compiled", "ExprRuntimeError", "compile_expr", "compile_predicate", "compile_fields",
           "FIELD_ERROR", "generated_function", "inline_body"]


class ExprRuntimeError(SynsecError):
    """An expression failed while evaluating; callers count it and treat the filter as false."""

    def __init__(self, text: str, where: Where, cause: BaseException | str):
        self.text = text
        self.where = where
        self.cause = cause
        detail = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"{where}: expr runtime error: {detail} (in {text!r})")


class Compiled:
    """A compiled expression: call it with the arguments named by `params`, in that order.

    `fn` is the raw generated function (same behaviour, one call level less) for hot loops; `tree` the
    syntax tree it was generated from and `ctx` its context (load-time analyses such as the scenario filter index
    read them).
    """

    __slots__ = ("text", "where", "params", "fn", "source", "tree", "ctx")

    def __init__(self, text: str, where: Where, params: tuple[str, ...], fn: Callable[..., Any], source: str,
                 tree: Any = None, ctx: ExprContext | None = None):
        self.text = text
        self.where = where
        self.params = params
        self.fn = fn
        self.source = source
        self.tree = tree
        self.ctx = ctx

    def __call__(self, *args):       # replaced per instance by a subclass whose __call__ is `fn` itself
        return self.fn(*args)

    def __repr__(self) -> str:
        return f"Compiled({self.text!r}, where={str(self.where)!r})"


def _column_of(text: str, pos: int) -> tuple[int, int]:
    """1-based (line, column) of offset pos in text."""
    before = text[:pos]
    return before.count("\n") + 1, pos - (before.rfind("\n") + 1) + 1


def _load_error(where: Where, text: str, message: str, pos: int) -> ExprError:
    line, col = _column_of(text, pos)
    at = f"line {line} column {col}" if "\n" in text.strip() else f"column {col}"
    return ExprError(where, f"{message} ({at}) in expression: {_shown(text)!r}")


def _shown(text: str, limit: int = 200) -> str:
    """The expression as an error message quotes it: stripped, and cut after `limit` characters."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _build(text: str, where: Where, params: tuple[str, ...], ctx: ExprContext | None,
           predicate: bool) -> Compiled:
    ctx = ctx if ctx is not None else ExprContext()
    for p in params:
        if not p.isidentifier():
            raise ExprError(where, f"parameter name {p!r} is not an identifier")
    try:
        tree = parse(text)
        cg = CodeGen(params, ctx)
        body, typ = cg.gen(tree)
        args = ", ".join(cg.params[p][0] for p in params)
        head = f"def _compiled({args}):\n" + ("    _b = _rt_Budget()\n" if cg.metered else "")
        if predicate and typ != "bool":
            code = (f"{head}    try:\n        _r = {body}\n"
                    f"    except Exception as _e:\n        raise _fail(_e) from _e\n"
                    f"    if _r.__class__ is bool:\n        return _r\n    raise _notbool(_r)\n")
        else:
            code = (f"{head}    try:\n        return {body}\n"
                    f"    except Exception as _e:\n        raise _fail(_e) from _e\n")
        ns = cg.namespace
        ns["_fail"] = lambda e: ExprRuntimeError(text, where, e)
        ns["_notbool"] = lambda r: ExprRuntimeError(     # reprlib: a huge result is never printed whole
            text, where, f"expected bool, but got {type(r).__name__} ({reprlib.repr(r):.60})")
        fn = generated_function(code, ns, "_compiled", f"<expr {where}>")
    except ExprTextError as err:
        raise _load_error(where, text, err.message, err.pos) from None
    except Exception as err:          # never a SyntaxError, RecursionError... out of content: a load error
        raise _internal(where, text, err) from None
    # A one-off subclass whose __call__ is the generated function: calling the object costs what calling
    # the function costs, instead of one more Python frame.
    cls = type("Compiled", (Compiled,), {"__slots__": (), "__call__": _static(fn)})
    return cls(text, where, params, fn, code, tree, ctx)


def _internal(where: Where, text: str, err: BaseException) -> ExprError:
    """A load error for an expression the compiler could not turn into Python (a compiler bug, reported)."""
    what = "too deeply nested or too large" if isinstance(err, (RecursionError, MemoryError)) else "cannot compile"
    return ExprError(where, f"expression {what} ({type(err).__name__}: {err}): {_shown(text)!r}")


_BUILTINS = {"any": any, "all": all, "sum": sum, "next": next, "enumerate": enumerate, "reversed": reversed,
             "list": list, "len": len, "Exception": Exception, "bool": bool, "str": str}


def generated_function(code: str, ns: dict, name: str, filename: str) -> FunctionType:
    """The function `name` defined by generated `code`, bound to the namespace `ns` (no exec of text).

    Every generated function of the engine (expressions, statics, the filter index) is built here, with the
    same short list of builtins."""
    ns["__builtins__"] = _BUILTINS
    module = compile(code, filename, "exec")
    fn_code = next(c for c in module.co_consts if isinstance(c, CodeType) and c.co_name == name)
    return FunctionType(fn_code, ns, name)


def inline_body(expr: Any, gens: dict, ns: dict) -> tuple[str, bool, str] | None:
    """(code, metered, type) of a compiled expression's body over `v_evt`, for a generated function that runs
    it inline (statics, parser nodes) instead of calling it; its names are added to `ns`, its temporaries
    come from `gens`' one generator per context (so they never clash). None when it has no syntax tree or a
    name it needs is already bound to something else (another context's data): call it then. `metered`: the
    code charges `_b`, which must be a fresh `_rt_Budget()`; a predicate's non-bool value is the caller's to
    refuse when `type` is not "bool"."""
    tree, ctx = getattr(expr, "tree", None), getattr(expr, "ctx", None)
    if tree is None or ctx is None or tuple(getattr(expr, "params", ())) != ("evt",):
        return None
    cg = gens.get(id(ctx))
    if cg is None:
        cg = gens[id(ctx)] = CodeGen(("evt",), ctx)
    cg.metered = False
    try:
        body, typ = cg.gen(tree)
    except Exception:  # noqa: BLE001 - it compiled once; if it does not now, the call is the safe choice
        return None
    for name, value in cg.namespace.items():
        if ns.setdefault(name, value) is not value:
            return None
    return body, cg.metered, typ


def _static(fn: Callable[..., Any]) -> staticmethod:
    return staticmethod(fn)


def compile_expr(text: str, *, where: Where, params: tuple[str, ...] = ("evt",),
                 ctx: ExprContext | None = None) -> Compiled:
    """Compile an expr expression once; raise ExprError (file, line, column, text) when it cannot."""
    return _build(text, where, tuple(params), ctx, predicate=False)


def compile_predicate(text: str, *, where: Where, params: tuple[str, ...] = ("evt",),
                      ctx: ExprContext | None = None) -> Compiled:
    """Like compile_expr, but the call returns a Python bool; a non-bool result is an ExprRuntimeError."""
    return _build(text, where, tuple(params), ctx, predicate=True)


class _FieldError:
    __slots__ = ()

    def __repr__(self) -> str:
        return "FIELD_ERROR"


FIELD_ERROR = _FieldError()   # what compile_fields gives for a field whose evaluation raised


def compile_fields(nodes: list[Any], *, where: Where, params: tuple[str, ...] = ("evt",),
                   ctx: ExprContext | None = None) -> Callable[..., tuple]:
    """One function computing several (sub-)trees at once: `fn(evt) -> (value, ...)`, FIELD_ERROR for a raise.

    The bodies are generated inline into one function, so reading N fields costs one call, not N.
    """
    cg = CodeGen(tuple(params), ctx if ctx is not None else ExprContext())
    args = ", ".join(cg.params[p][0] for p in params)
    lines = [f"def _fields({args}):"]
    for i, node in enumerate(nodes):
        try:
            body, _typ = cg.gen(node)
        except ExprTextError as err:
            raise ExprError(where, f"field {i} does not compile: {err.message}") from None
        lines += ["    try:", f"        _f{i} = {body}", "    except Exception:", f"        _f{i} = _ERR"]
    lines.append(f"    return ({''.join(f'_f{i}, ' for i in range(len(nodes)))})")
    cg.namespace["_ERR"] = FIELD_ERROR
    if cg.metered:
        lines.insert(1, "    _b = _rt_Budget()")
    try:
        return generated_function("\n".join(lines) + "\n", cg.namespace, "_fields", f"<fields {where}>")
    except Exception as err:
        raise _internal(where, "<fields>", err) from None
