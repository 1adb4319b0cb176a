"""CrowdSec's `expr` language (expr-lang/expr v1.17) compiled once, at load, into Python functions.

    lexer -> parser (Pratt, expr's precedence) -> AST -> Python source (codegen) -> compile()

Hub shapes such as `any(File('f'), {X endsWith #})` or `RegexpInFile(X, 'f')` become one operation built at
load (see fastpaths). Helpers live in a registry (name -> implementation, arity, specialiser).
"""

from __future__ import annotations

from . import builtins as _builtins  # noqa: F401  (registers helpers)
from . import helpers_data as _helpers_data  # noqa: F401
from . import helpers_filemap as _helpers_filemap  # noqa: F401
from . import helpers_misc as _helpers_misc  # noqa: F401
from . import helpers_net as _helpers_net  # noqa: F401
from . import helpers_str as _helpers_str  # noqa: F401
from . import helpers_xml as _helpers_xml  # noqa: F401
from .compiler import Compiled, ExprRuntimeError, compile_expr, compile_predicate
from .context import ExprContext, Stash
from .registry import REGISTRY

__all__ = ["compile_expr", "compile_predicate", "Compiled", "ExprRuntimeError", "ExprContext", "Stash",
           "helper_names"]


def helper_names() -> list[str]:
    """Every function name an expression may call, sorted."""
    from .parser import PREDICATES
    return sorted(set(REGISTRY) | set(PREDICATES))
