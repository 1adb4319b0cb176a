"""YAML with positions: every mapping remembers the line of each key, so errors name `path:line: field`."""

from __future__ import annotations

from typing import Any, Iterator

import yaml

from synsec.engine.errors import LoadError, Where

__all__ = ["PosDict", "PosList", "load_documents", "line_of", "where_of"]


class PosDict(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    __slots__ = ("line", "key_lines", "path")

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.line = 0
        self.key_lines: dict[str, int] = {}
        self.path = "<string>"


class PosList(list):
    """A sequence that knows its own line and the line of each item (1-based)."""

    __slots__ = ("line", "item_lines", "path")

    def __init__(self, *a):
        super().__init__(*a)
        self.line = 0
        self.item_lines: list[int] = []
        self.path = "<string>"


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> PosDict:
    loader.flatten_mapping(node)
    out = PosDict()
    out.line = node.start_mark.line + 1
    out.path = loader.name
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise LoadError(Where(loader.name, key_node.start_mark.line + 1, str(key)), "duplicate key")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> PosList:
    out = PosList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    out.path = loader.name
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_documents(text: str, path: str) -> Iterator[tuple[int, Any]]:
    """Yield (document line, document) for each non-empty document; YAML syntax errors become LoadError."""
    loader = _Loader(text)
    loader.name = path
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            doc = loader.construct_document(node)
            if doc is not None:
                yield node.start_mark.line + 1, doc
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 0
        raise LoadError(Where(path, line, ""), f"invalid YAML: {err.problem or err}") from None
    except yaml.YAMLError as err:
        raise LoadError(Where(path, 0, ""), f"invalid YAML: {err}") from None
    finally:
        loader.dispose()


def line_of(container: Any, key: Any = None) -> int:
    """Line of `container[key]` (or of the container itself) when known, else 0."""
    if key is not None:
        if isinstance(container, PosDict):
            return container.key_lines.get(key, container.line)
        if isinstance(container, PosList) and isinstance(key, int) and key < len(container.item_lines):
            return container.item_lines[key]
    return getattr(container, "line", 0)


def where_of(container: Any, key: Any, field: str, path: str | None = None) -> Where:
    """A Where for `container[key]` named `field`."""
    return Where(path or getattr(container, "path", "<string>"), line_of(container, key), field)
