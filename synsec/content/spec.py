"""Strict decoding helpers shared by the content loaders: unknown keys and wrong types are load errors."""

from __future__ import annotations

import math
from typing import Any

from synsec.content.yamlload import kind_of, line_of
from synsec.engine.errors import ErrorCollector, LoadError, Where

__all__ = ["Doc", "check_keys", "get_str", "get_list", "get_map", "get_bool", "get_int", "get_float",
           "get_json_map"]


class Doc:
    """A YAML mapping plus where it came from, with typed getters that record errors."""

    def __init__(self, data: Any, path: str, field: str, errors: ErrorCollector, line: int = 0):
        self.data = data if isinstance(data, dict) else {}
        self.path = path
        self.field = field
        self.errors = errors
        self.line = line or line_of(data) or 1
        if not isinstance(data, dict):
            self.error(None, f"expected a mapping, got {kind_of(data)}")

    def name(self, key: Any) -> str:
        key = str(key) or "''"       # an empty key still names a field
        return f"{self.field}.{key}" if self.field else key

    def where(self, key: Any = None) -> Where:
        if key is None:
            return Where(self.path, self.line, self.field or "(document)")
        return Where(self.path, line_of(self.data, key) or self.line, self.name(key))

    def error(self, key: Any, message: str) -> None:
        self.errors.add(LoadError(self.where(key), message))

    def child(self, key: str, value: Any) -> "Doc":
        """The mapping at `key`."""
        return Doc(value, self.path, self.name(key), self.errors, line_of(self.data, key) or self.line)

    def item_where(self, key: str, index: int) -> Where:
        """Where `key[index]` is (a lone value written without a list is item 0)."""
        line = line_of(self.data.get(key), index) or line_of(self.data, key) or self.line
        return Where(self.path, line, f"{self.name(key)}[{index}]")

    def item(self, key: str, index: int, value: Any) -> "Doc":
        """The mapping at `key[index]`."""
        where = self.item_where(key, index)
        return Doc(value, self.path, where.field, self.errors, where.line)


def check_keys(doc: Doc, allowed: frozenset[str] | set[str]) -> None:
    for key in doc.data:
        if key not in allowed:
            doc.error(key, f"unknown field {key!r} (allowed: {', '.join(sorted(allowed))})")


def get_str(doc: Doc, key: str, default: str | None = "", *, required: bool = False) -> str | None:
    if key not in doc.data or doc.data[key] is None:
        if required:
            doc.error(key, "required field is missing")
        return default
    value = doc.data[key]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        doc.error(key, f"expected a string, got {kind_of(value)}")
        return default
    return str(value)


def get_bool(doc: Doc, key: str, default: bool = False) -> bool:
    value = doc.data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        doc.error(key, f"expected true or false, got {_short(value)}")
        return default
    return value


def get_int(doc: Doc, key: str, default: int | None = None) -> int | None:
    value = doc.data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        doc.error(key, f"expected an integer, got {_short(value)}")
        return default
    return value


def get_float(doc: Doc, key: str, default: float = 0.0) -> float:
    value = doc.data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        doc.error(key, f"expected a number, got {_short(value)}")
        return default
    return float(value)


def get_list(doc: Doc, key: str) -> list:
    value = doc.data.get(key)
    if value is None:
        return []
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list):
        doc.error(key, f"expected a list, got {kind_of(value)}")
        return []
    return value


def get_map(doc: Doc, key: str) -> dict:
    value = doc.data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        doc.error(key, f"expected a mapping, got {kind_of(value)}")
        return {}
    return value


def get_json_map(doc: Doc, key: str) -> dict:
    """A mapping whose values are JSON values (str, int, finite float, bool, null, lists, mappings with string
    keys): it is stored with alerts later, so anything else is refused here rather than crash a store."""
    value = get_map(doc, key)
    bad = _not_json(value, doc.name(key))
    if bad:
        doc.error(key, f"{bad[0]} is not a JSON value ({bad[1]})")
        return {}
    return value


def _not_json(value: Any, name: str) -> tuple[str, str] | None:
    """(field, reason) of the first part of value that JSON cannot hold, else None."""
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (name, f"{value}")
    if isinstance(value, list):
        for i, item in enumerate(value):
            bad = _not_json(item, f"{name}[{i}]")
            if bad:
                return bad
        return None
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                return f"{name}", f"key of type {kind_of(k)}"
            bad = _not_json(item, f"{name}.{k}")
            if bad:
                return bad
        return None
    return name, kind_of(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
