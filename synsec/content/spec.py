"""Strict decoding helpers shared by the content loaders: unknown keys and wrong types are load errors."""

from __future__ import annotations

from typing import Any

from synsec.content.yamlload import line_of
from synsec.engine.errors import ErrorCollector, LoadError, Where

__all__ = ["Doc", "check_keys", "get_str", "get_list", "get_map", "get_bool"]


class Doc:
    """A YAML mapping plus where it came from, with typed getters that record errors."""

    def __init__(self, data: Any, path: str, field: str, errors: ErrorCollector, line: int = 0):
        self.data = data if isinstance(data, dict) else {}
        self.path = path
        self.field = field
        self.errors = errors
        self.line = line or line_of(data)
        if not isinstance(data, dict):
            self.error(None, f"expected a mapping, got {type(data).__name__}")

    def where(self, key: Any = None) -> Where:
        name = self.field if key is None else (f"{self.field}.{key}" if self.field else str(key))
        return Where(self.path, line_of(self.data, key) if key is not None else self.line, name)

    def error(self, key: Any, message: str) -> None:
        self.errors.add(LoadError(self.where(key), message))

    def child(self, key: Any, value: Any) -> "Doc":
        name = f"{self.field}.{key}" if self.field else str(key)
        return Doc(value, self.path, name, self.errors, line_of(self.data, key) if isinstance(key, str)
                   else line_of(value))


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
        doc.error(key, f"expected a string, got {type(value).__name__}")
        return default
    return str(value)


def get_bool(doc: Doc, key: str, default: bool = False) -> bool:
    value = doc.data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        doc.error(key, f"expected true or false, got {value!r}")
        return default
    return value


def get_list(doc: Doc, key: str) -> list:
    value = doc.data.get(key)
    if value is None:
        return []
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list):
        doc.error(key, f"expected a list, got {type(value).__name__}")
        return []
    return value


def get_map(doc: Doc, key: str) -> dict:
    value = doc.data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        doc.error(key, f"expected a mapping, got {type(value).__name__}")
        return {}
    return value
