"""The expr syntax tree: small frozen records, each with the offset (`pos`) of its token in the text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Node", "Const", "Ident", "Pointer", "Unary", "Binary", "Member", "Slice", "Call", "MethodCall",
    "Builtin", "Predicate", "Chain", "Conditional", "ArrayLit", "MapLit", "Let", "Sequence",
    "tree_depth", "tree_size",
]


@dataclass(frozen=True, slots=True)
class Node:
    pos: int


@dataclass(frozen=True, slots=True)
class Const(Node):
    """A literal: str, int, float, bool or None (nil)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Ident(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Pointer(Node):
    """`#` (name "") or `#index`/`#acc` inside a predicate; `.Field` is Member(Pointer(""), "Field")."""

    name: str


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str          # "not", "-", "+"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Member(Node):
    """`obj.name`, `obj["key"]`, `obj[i]`; optional is `?.`."""

    obj: Node
    prop: Node
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Slice(Node):
    obj: Node
    start: Node | None
    stop: Node | None


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A call of a named helper: `Upper(x)`."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MethodCall(Node):
    """`obj.Name(args)`, e.g. `Alert.GetScope()`."""

    obj: Node
    name: str
    args: tuple[Node, ...]
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Predicate(Node):
    body: Node


@dataclass(frozen=True, slots=True)
class Builtin(Node):
    """A predicate builtin taking a closure: any/all/none/one/filter/map/count/sum/find..."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Chain(Node):
    """The extent of an optional chain: a nil met at a `?.` makes the whole chain nil."""

    node: Node


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    cond: Node
    then: Node
    other: Node


@dataclass(frozen=True, slots=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Let(Node):
    name: str
    value: Node
    body: Node


@dataclass(frozen=True, slots=True)
class Sequence(Node):
    """`a; b; c`: each evaluated in turn, the value is the last one's."""

    items: tuple[Node, ...]


def tree_depth(root: Node, limit: int) -> int:
    """How many nodes the longest path from root has, counted without recursion; stops once past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, tuple):
            stack.extend((x, depth) for x in item)
            continue
        if not isinstance(item, Node):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((getattr(item, f), depth + 1) for f in item.__slots__ if f != "pos")
    return deepest


def tree_size(root: Node, limit: int) -> int:
    """How many nodes the tree has, counted without recursion; stops once past `limit`."""
    count = 0
    stack: list[Any] = [root]
    while stack and count <= limit:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(item)
        elif isinstance(item, Node):
            count += 1
            stack.extend(getattr(item, f) for f in item.__slots__ if f != "pos")
    return count
