"""The helper registry: an expr function name -> its Python implementation, arity and specialiser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Helper", "REGISTRY", "helper", "register"]


@dataclass(frozen=True)
class Helper:
    """One callable of the expr environment.

    `pure` helpers are folded at load when every argument is a literal. `needs_ctx` helpers receive the
    ExprContext as first argument. `specialise(call, codegen)` may return `(python_code, type)` to replace
    the generic call (e.g. `RegexpInFile(x, 'f')` -> one prebuilt regex), or None to keep it.
    """

    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None
    returns: str = "any"
    pure: bool = False
    needs_ctx: bool = False
    specialise: Callable[..., Any] | None = None
    doc: str = ""


REGISTRY: dict[str, Helper] = {}


def register(h: Helper) -> Helper:
    if h.name in REGISTRY:
        raise ValueError(f"helper {h.name} registered twice")
    REGISTRY[h.name] = h
    return h


def helper(name: str, min_args: int, max_args: int | None = -1, *, returns: str = "any", pure: bool = False,
           needs_ctx: bool = False, specialise: Callable[..., Any] | None = None):
    """Decorator: register fn under `name`; max_args -1 means 'same as min_args', None means variadic."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        register(Helper(name, fn, min_args, min_args if max_args == -1 else max_args, returns, pure,
                        needs_ctx, specialise, (fn.__doc__ or "").strip()))
        return fn
    return wrap
