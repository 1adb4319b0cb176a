"""Operations the generated code calls when the compiler cannot prove the operand types (Go semantics)."""

from __future__ import annotations

import math
from datetime import datetime
from types import ModuleType

from ..model import Event, StrMap
from .gotime import call_time_method
from .regex import cached_regex
from .typeinfo import CLASS_METHODS

__all__ = [
    "member", "attribute", "call", "writable", "eq", "ne", "in_", "contains", "starts_with", "ends_with", "matches", "add", "sub", "mul",
    "div", "mod", "pow_", "neg", "iter_", "slice_", "range_", "as_str", "not_", "RUNTIME_NAMES",
    "Budget", "charge", "MAX_ITEMS", "MAX_STRING", "MAX_WORK", "INT64", "oversized", "weight",
]

# Bounds on what one operation may build, checked before it is built (constant folding at load gives up
# past them, leaving the operation to run time, where it raises a runtime error instead of exhausting memory).
MAX_ITEMS = 1_000_000          # elements of a range (Go's fmt refuses widths past 1e6 the same way)
MAX_STRING = 1 << 20           # characters of a string built by repeat, Sprintf, Replace
INT64 = (-(1 << 63), (1 << 63) - 1)
# What one evaluation may build or walk in all (elements of the lists a predicate walks, of ranges, of copies,
# characters of grown strings): bounded operations nested in predicates (`map(1..1000000, {repeat(s, 1000000)})`)
# otherwise multiply past any single bound.
MAX_WORK = 10_000_000


class Budget:
    """The work left to one evaluation; the generated function makes one when its code charges any."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_WORK


def charge(budget: Budget, value):
    """Count a built or walked value against the evaluation's budget; a runtime error once it is spent."""
    budget.left -= len(value) if value.__class__ in (str, list, tuple, dict) else 1
    if budget.left < 0:
        raise ValueError(f"expression builds or walks more than {MAX_WORK} elements and characters")
    return value


def oversized(value) -> bool:
    """True for a value larger than an operation may build: folding then leaves it to run time."""
    if value.__class__ is int:
        return not INT64[0] <= value <= INT64[1]
    return weight(value, MAX_STRING) > MAX_STRING


def weight(value, limit: int) -> int:
    """Elements plus characters of a value (a list of strings counts both); stops counting past `limit`."""
    if value.__class__ is str:
        return len(value)
    if value.__class__ not in (list, tuple, dict):
        return 1
    total = len(value)
    for item in (value.values() if value.__class__ is dict else value):
        if total > limit:
            break
        total += weight(item, limit - total)
    return total



def member(obj, key):
    """`obj.key` / `obj[key]`: maps read a missing key as nil ("" for a StrMap), lists take an int index."""
    if isinstance(obj, dict):
        try:
            return obj[key]
        except KeyError:
            return None
        except TypeError:
            return None
    if isinstance(obj, (list, tuple, str)):
        if type(key) is not int:
            raise TypeError(f"cannot index {type(obj).__name__} with {type(key).__name__}")
        return obj[key]
    if obj is None:
        raise TypeError(f"cannot fetch {key} from nil")
    return attribute(obj, key)


def attribute(obj, name):
    """`obj.name` for a data field only: never a private or dunder name, a method, a class or a module."""
    if name.__class__ is not str or name.startswith("_"):
        raise TypeError(f"cannot fetch {name!r} from {type(obj).__name__}")
    value = getattr(obj, name)
    if callable(value) or isinstance(value, ModuleType):
        raise TypeError(f"cannot fetch {name!r} from {type(obj).__name__}: not a field")
    return value


def writable(target, evt):
    """The target of ParseKV/UnmarshalJSON: evt.Unmarshaled or a map inside it (CrowdSec's
    map[string]interface{}), never a string map, an alert or anything else an expression can reach."""
    root = evt.Unmarshaled if evt.__class__ is Event else None
    if isinstance(target, dict) and target.__class__ is not StrMap and _inside(target, root):
        return target
    raise TypeError(f"cannot write into {type(target).__name__}: the target must be evt.Unmarshaled or a map in it")


def _inside(target: dict, root, limit: int = 100_000) -> bool:
    """Whether target is root or a map nested in it (a bounded walk, by identity)."""
    stack = [root]
    while stack and limit > 0:
        item = stack.pop()
        limit -= 1
        if item is target:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def call(obj, name: str, *args):
    """`obj.Name(args)` on a value of unknown static type: only a method of the allowlist, on its own class."""
    if obj.__class__ is datetime:
        return call_time_method(obj, name, args)
    allowed = CLASS_METHODS.get(obj.__class__)
    if allowed is None or name not in allowed:
        raise TypeError(f"type {type(obj).__name__} has no method {name}")
    return getattr(obj, name)(*args)


def eq(a, b) -> bool:
    """Go/expr equality: ints and floats compare by value, a bool never equals a number."""
    if (a.__class__ is bool) is not (b.__class__ is bool):
        return False
    return a == b


def ne(a, b) -> bool:
    return not eq(a, b)


def in_(x, coll) -> bool:
    """expr `in`: membership in a list, key of a map; nil holds nothing."""
    if isinstance(coll, dict):
        try:
            return x in coll
        except TypeError:
            return False
    if isinstance(coll, (list, tuple)):
        for item in coll:
            if eq(x, item):
                return True
        return False
    if isinstance(coll, (frozenset, set)):
        try:
            return x in coll
        except TypeError:
            return False
    if coll is None:
        return False
    raise TypeError(f"operator in not defined on {type(coll).__name__}")


def as_str(value) -> str:
    if value.__class__ is str:
        return value
    raise TypeError(f"expected string, got {type(value).__name__}")


def contains(a, b) -> bool:
    return as_str(b) in as_str(a)


def starts_with(a, b) -> bool:
    return as_str(a).startswith(as_str(b))


def ends_with(a, b) -> bool:
    return as_str(a).endswith(as_str(b))


def matches(a, pattern) -> bool:
    return cached_regex(as_str(pattern)).search(as_str(a))


def _num(x):
    if x.__class__ is bool or not isinstance(x, (int, float)):
        raise TypeError(f"expected a number, got {type(x).__name__}")
    return x


def add(a, b):
    if a.__class__ is str and b.__class__ is str:
        return a + b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) + list(b)
    if a.__class__ in (int, float) and b.__class__ in (int, float):
        return a + b
    return a + b if not (a.__class__ is bool or b.__class__ is bool) else _num(a) + _num(b)


def sub(a, b):
    if a.__class__ in (int, float) and b.__class__ in (int, float):
        return a - b
    return a - b if not (a.__class__ is bool or b.__class__ is bool) else _num(a) - _num(b)


def mul(a, b):
    return _num(a) * _num(b)


def div(a, b) -> float:
    """expr `/` is float division; Go gives ±Inf or NaN when dividing by zero."""
    a, b = float(_num(a)), float(_num(b))
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def mod(a, b) -> int:
    """Go `%` on ints: the result takes the sign of the dividend."""
    if a.__class__ is not int or b.__class__ is not int:
        raise TypeError("operator % not defined on non-integers")
    if b == 0:
        raise ZeroDivisionError("integer divide by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def pow_(a, b) -> float:
    return math.pow(float(_num(a)), float(_num(b)))


def neg(a):
    return -_num(a)


def not_(a) -> bool:
    if a.__class__ is not bool:
        raise TypeError(f"operator not defined on {type(a).__name__}")
    return not a


def iter_(coll):
    """What a predicate walks: a list as is, nil as empty, a map by its values."""
    if coll is None:
        return ()
    if isinstance(coll, dict):
        return list(coll.values())
    if isinstance(coll, (list, tuple, str)):
        return coll
    raise TypeError(f"cannot iterate over {type(coll).__name__}")


def slice_(obj, start, stop):
    """`a[i:j]` with Go's bounds: negative indexes count from the end, out-of-range is clamped."""
    n = len(obj)
    i = 0 if start is None else _bound(start, n)
    j = n if stop is None else _bound(stop, n)
    return obj[i:j] if i <= j else obj[0:0]


def _bound(i, n: int) -> int:
    if i.__class__ is not int:
        raise TypeError("slice index must be an integer")
    if i < 0:
        i += n
    return min(max(i, 0), n)


def range_(a, b) -> list[int]:
    if a.__class__ is not int or b.__class__ is not int:
        raise TypeError("range bounds must be integers")
    if b - a >= MAX_ITEMS:
        raise ValueError(f"range {a}..{b} has more than {MAX_ITEMS} elements")
    return list(range(a, b + 1))


RUNTIME_NAMES = {name: globals()[name] for name in __all__
                 if name not in ("RUNTIME_NAMES", "MAX_ITEMS", "MAX_STRING", "MAX_WORK", "INT64", "oversized", "weight")}


class _NoInit:
    __slots__ = ()


NO_INIT = _NoInit()


def group_by(coll, key) -> dict:
    out: dict = {}
    for i, item in enumerate(coll):
        out.setdefault(key(item, i), []).append(item)
    return out


def sort_by(coll, key, order="asc") -> list:
    if order not in ("asc", "desc"):
        raise ValueError(f"unknown order {order!r}, use asc or desc")
    keyed = [(key(item, i), item) for i, item in enumerate(coll)]
    keyed.sort(key=lambda kv: kv[0], reverse=order == "desc")
    return [item for _, item in keyed]


def reduce(coll, fn, init=NO_INIT):
    items = list(coll)
    if init is NO_INIT:
        if not items:
            raise ValueError("reduce of empty array with no initial value")
        acc, start = items[0], 1
    else:
        acc, start = init, 0
    for i in range(start, len(items)):
        acc = fn(acc, items[i], i)
    return acc


RUNTIME_NAMES.update(group_by=group_by, sort_by=sort_by, reduce=reduce, NO_INIT=NO_INIT)


def any_regex(regexes, text) -> bool:
    return any(rx.search(text) for rx in regexes)


RUNTIME_NAMES.update(any_regex=any_regex)
