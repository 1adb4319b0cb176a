"""YAML with positions and limits: every mapping remembers the line of each key, so errors name `path:line: field`.

Content comes from strangers, so reading it is bounded (each limit is a load error, never a crash):
a file is at most `MAX_FILE_BYTES` of UTF-8 and holds at most `MAX_NODES` nodes counting every alias at the
size of what it expands to (a "billion laughs" is refused while it is composed, before anything is built), a
document nests at most `MAX_DEPTH` levels, mapping keys are strings, and only the plain tags exist: str, int,
float, bool, null, lists and mappings. Dates stay strings (as CrowdSec's yaml.v3 reads them into an
interface{}); `!!binary`, `!!set`, `!!omap`, `!!pairs` and application tags are refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterator

import yaml

from synsec.engine.errors import LoadError, Where

__all__ = ["PosDict", "PosList", "load_documents", "line_of", "where_of", "read_content_file", "kind_of",
           "MAX_FILE_BYTES", "MAX_DEPTH", "MAX_NODES"]

# PyYAML's pure-Python reader (the one whose depth and aliases can be watched) scans ~1 MB and composes
# ~20,000 nodes a second on a loaded core, so these bound the time one file can take to a few seconds.
MAX_FILE_BYTES = 1024 * 1024       # one content file (the largest hub file is 23 KiB)
MAX_DEPTH = 64                     # nesting of one document (the hub nests 9 deep)
MAX_NODES = 50_000                 # nodes of one file, aliases expanded (the largest hub file has 1,078)

_TAG = "tag:yaml.org,2002:"


class PosDict(dict):
    """A mapping that knows its own line and the line of each key (1-based), and the source text of each scalar
    value: what Go's YAML decoders put in a string field (`value: yes` is "yes", `010` is "010")."""

    __slots__ = ("line", "key_lines", "path", "texts")

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.line = 0
        self.key_lines: dict[str, int] = {}
        self.path = "<string>"
        self.texts: dict[str, str] = {}

    def text_of(self, key: str) -> str | None:
        """`key`'s scalar as Go reads it into a string: its source text, "" for null; None when not a scalar."""
        value = self.get(key)
        if value is None:
            return "" if key in self else None
        if isinstance(value, (dict, list)):
            return None
        return self.texts.get(key, value if isinstance(value, str) else str(value))


class PosList(list):
    """A sequence that knows its own line and the line of each item (1-based)."""

    __slots__ = ("line", "item_lines", "path")

    def __init__(self, *a):
        super().__init__(*a)
        self.line = 0
        self.item_lines: list[int] = []
        self.path = "<string>"


def kind_of(value: Any) -> str:
    """The YAML name of a value's type, for messages: mapping, list, string, integer, number, boolean, null."""
    if value is None:
        return "null"
    for kind, name in ((dict, "mapping"), (list, "list"), (str, "string"), (bool, "boolean"), (int, "integer"),
                       (float, "number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def read_content_file(path: str | Path, limit: int = MAX_FILE_BYTES, *, strict: bool = True) -> str:
    """The text of one content file: a regular file of at most `limit` bytes of UTF-8, else a LoadError.

    `strict=False` replaces bytes that are not UTF-8 (data files: CrowdSec reads them as bytes)."""
    name = str(path)
    try:
        if not stat.S_ISREG(os.stat(name).st_mode):
            raise LoadError(Where(name, 1, "(file)"), "not a regular file")
        with open(name, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as err:
        raise LoadError(Where(name, 1, "(file)"), f"cannot read: {err.strerror or err}") from None
    if len(raw) > limit:
        raise LoadError(Where(name, 1, "(file)"), f"file is larger than {limit} bytes")
    try:
        return raw.decode("utf-8", "strict" if strict else "replace")
    except UnicodeDecodeError as err:
        raise LoadError(Where(name, raw.count(b"\n", 0, err.start) + 1, "(file)"),
                        f"not UTF-8 (byte {raw[err.start]:#04x} at offset {err.start})") from None


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts depth and expanded size while composing and names the field of every node."""

    def __init__(self, text: str, path: str):
        super().__init__(text)
        self.name = path
        self.depth = 0
        self.sizes: dict[int, int] = {}      # id(node) -> nodes it expands to (set once composed)
        self.fields: dict[int, str] = {}     # id(node) -> dotted field name
        self.names: list[str] = []
        self.total = 0                       # nodes of the documents composed so far

    def error(self, mark, field: str, message: str) -> LoadError:
        if len(field) > 100:     # 64 levels of `[0]`: keep the start and the end
            field = f"{field[:60]}…{field[-30:]}"
        return LoadError(Where(self.name, mark.line + 1 if mark else 1, field or "(document)"), message)

    def compose_node(self, parent, index):
        name = _child_name(self.names[-1] if self.names else "", index)
        self.names.append(name)
        try:
            return self._compose(parent, index, name)
        except yaml.YAMLError as err:     # a syntax error names the innermost field being composed
            if not hasattr(err, "synsec_field"):
                err.synsec_field = name
            raise
        finally:
            self.names.pop()

    def _compose(self, parent, index, name: str):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            if id(node) not in self.sizes:
                raise self.error(event.start_mark, name, f"alias *{event.anchor} refers to a node that contains it")
            self._count(self.sizes[id(node)], event, name)
            return node
        event = self.peek_event()
        if self.depth >= MAX_DEPTH:
            raise self.error(event.start_mark, name, f"nested deeper than {MAX_DEPTH} levels")
        self._count(1, event, name)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        self.sizes[id(node)] = 1 + sum(self.sizes[id(c)] for c in _children(node))
        self.fields[id(node)] = name
        return node

    def _count(self, nodes: int, event, name: str) -> None:
        """Count nodes as they are composed (an alias at its expanded size): refused at the first one too many."""
        self.total += nodes
        if self.total > MAX_NODES:
            raise self.error(event.start_mark, name, f"more than {MAX_NODES} YAML nodes in one file "
                                                     "(each alias counted at its expanded size)")

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError, KeyError, IndexError) as err:
            # PyYAML's scalar constructors on explicit tags: `!!int` of 5,000 digits (ValueError),
            # `!!bool maybe` (KeyError), `!!int ''` (IndexError)
            raise self.error(node.start_mark, self.fields.get(id(node), ""),
                             f"invalid {node.tag.replace(_TAG, '!!')} value: {str(err)[:80]}") from None

    def compose_document(self):
        self.sizes.clear()
        self.fields.clear()
        return super().compose_document()


def _child_name(parent: str, index) -> str:
    if isinstance(index, int):
        return f"{parent}[{index}]"
    if isinstance(index, yaml.ScalarNode):
        return f"{parent}.{index.value}" if parent else str(index.value)
    return parent


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _expect(loader: _Loader, node, kind: type, name: str) -> None:
    """`!!seq` / `!!map` on a node of another kind (`!!seq text`) is an error, not an AttributeError."""
    if not isinstance(node, kind):
        raise loader.error(node.start_mark, loader.fields.get(id(node), ""), f"!!{name} on a value that is not a {name}")


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> PosDict:
    _expect(loader, node, yaml.MappingNode, "map")
    loader.flatten_mapping(node)
    out = PosDict()
    out.line = node.start_mark.line + 1
    out.path = loader.name
    field = loader.fields.get(id(node), "")
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise loader.error(key_node.start_mark, field,
                               f"a mapping key must be a string, got {kind_of(key)}")
        if key in out:
            raise loader.error(key_node.start_mark, f"{field}.{key}" if field else key, "duplicate key")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.ScalarNode):
            out.texts[key] = value_node.value
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> PosList:
    _expect(loader, node, yaml.SequenceNode, "seq")
    out = PosList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    out.path = loader.name
    return out


def _refuse_tag(loader: _Loader, node) -> None:
    raise loader.error(node.start_mark, loader.fields.get(id(node), ""),
                       f"YAML tag {node.tag.replace(_TAG, '!!')} is not allowed "
                       "(only strings, numbers, booleans, null, lists and mappings)")


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_Loader.add_constructor(_TAG + "timestamp", yaml.SafeLoader.construct_scalar)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(_TAG + _tag, _refuse_tag)
_Loader.add_constructor(None, _refuse_tag)


def load_documents(text: str, path: str) -> Iterator[tuple[int, Any]]:
    """Yield (document line, document) for each non-empty document; YAML errors and limits become LoadError."""
    try:
        loader = _Loader(text, path)
    except yaml.reader.ReaderError as err:       # a control character: the reader checks the whole text
        line = text.count("\n", 0, err.position) + 1 if isinstance(err.position, int) else 1
        char = chr(err.character) if isinstance(err.character, int) else err.character
        raise LoadError(Where(path, line, "(file)"), f"invalid YAML: control character {char!r} is not allowed") from None
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
        raise loader.error(mark, getattr(err, "synsec_field", ""), f"invalid YAML: {err.problem or err}") from None
    except yaml.YAMLError as err:
        raise loader.error(None, getattr(err, "synsec_field", ""), f"invalid YAML: {err}") from None
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
