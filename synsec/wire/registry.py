"""Schemas and their ids: which Avro schema each Kafka value uses, and the id written in each message.

Confluent wire format: byte 0, a 4-byte big-endian schema id, the Avro binary body. The id names the *writer*
schema, so a reader can resolve data written by an older (or newer) version of a schema.

Subjects follow Confluent's TopicNameStrategy (`<topic>-value`). The bucket table value has no fixed topic (Faust
names its changelog after the app id), so it uses RecordNameStrategy: the subject is its record's full name.

Two registries answer `register(subject, schema) -> id` and `get_schema(id) -> schema`:

- `LocalRegistry(schema_dir)`: no server. Ids come from the checked-in manifest `schemas/ids.json`
  (`{subject: [{"version", "id", "sha256"}]}`) and every registered version's full text is kept in
  `schemas/evolution/<id>.avsc`, so data written by any past version stays readable. A manifest rather than ids
  hashed from the text: ids stay small and sequential (importable into a real registry in IMPORT mode), a
  schema change shows up as a reviewable diff, and a test fails when a schema changed without a new version
  (`python -m synsec.wire.registry bump` adds it).
- `HttpRegistry(url, auth)`: a minimal client of a Confluent Schema Registry (stdlib `urllib` only).

Schema files hold one record each; a type defined in another file is referred to by name and inlined at its
first use by `load_schemas`, so every schema handed to a registry or to fastavro is self-contained.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple, Protocol

from synsec.engine.errors import SynsecError

__all__ = [
    "SCHEMA_DIR", "Value", "VALUES", "RegistryError", "UnknownSchemaId", "Registry", "LocalRegistry",
    "HttpRegistry", "load_schemas", "schema_sha256", "bump",
]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "enum", "fixed"})


class Value(NamedTuple):
    """One kind of Kafka value: its codec name, record full name, schema file, topic and subject."""

    name: str
    record: str
    file: str
    topic: str               # "" for a table value
    tombstones: bool = False  # a null value is meaningful (compacted topic delete)

    @property
    def subject(self) -> str:
        return f"{self.topic}-value" if self.topic else self.record


VALUES: dict[str, Value] = {v.name: v for v in (
    Value("event", "io.synsec.Event", "event.avsc", "synsec.events"),
    Value("bucket_in", "io.synsec.BucketIn", "bucket_in.avsc", "synsec.buckets-in"),
    Value("alert", "io.synsec.Alert", "alert.avsc", "synsec.alerts"),
    Value("decision", "io.synsec.Decision", "decision.avsc", "synsec.decisions", tombstones=True),
    Value("dead_letter", "io.synsec.DeadLetter", "dead_letter.avsc", "synsec.deadletter"),
    Value("signal", "io.synsec.Signal", "signal.avsc", "synsec.signals"),
    Value("bucket_state", "io.synsec.BucketState", "bucket_state.avsc", ""),
)}


class RegistryError(SynsecError):
    """A registry that cannot answer: unreachable, refusing, or a schema it does not know."""


class UnknownSchemaId(RegistryError):
    """No schema has this id: the message was not written by us (or by another registry)."""

    def __init__(self, schema_id: int, where: str):
        self.schema_id = schema_id
        super().__init__(f"unknown schema id {schema_id} ({where})")


class Registry(Protocol):
    def register(self, subject: str, schema: dict) -> int: ...
    def get_schema(self, schema_id: int) -> dict: ...


# --- schema files ----------------------------------------------------------------------------------------
def _fullname(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _index(node, namespace: str, out: dict, path: Path) -> None:
    """Record every named type defined in `node` under its full name (with its namespace made explicit)."""
    if isinstance(node, list):
        for item in node:
            _index(item, namespace, out, path)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in _NAMED:
            namespace = node.get("namespace", namespace)
            full = _fullname(node["name"], namespace)
            if full in out:
                raise RegistryError(f"{path}: type {full} is defined twice")
            out[full] = dict(node, namespace=full.rpartition(".")[0])
            for fld in node.get("fields", ()):
                _index(fld["type"], full.rpartition(".")[0], out, path)
        elif kind in ("array", "map"):
            _index(node.get("items", node.get("values")), namespace, out, path)
        elif isinstance(kind, (dict, list)):
            _index(kind, namespace, out, path)


def _expand(node, namespace: str, index: dict, defined: set, where: str):
    """`node` with every named type defined at its first use and referred to by full name afterwards."""
    if isinstance(node, str):
        if node in _PRIMITIVES:
            return node
        full = _fullname(node, namespace)
        if full in defined:
            return full
        if full not in index:
            raise RegistryError(f"{where}: unknown type {node!r}")
        return _expand(index[full], namespace, index, defined, where)
    if isinstance(node, list):
        return [_expand(item, namespace, index, defined, where) for item in node]
    kind = node["type"]
    if kind in _NAMED:
        namespace = node.get("namespace", namespace)
        full = _fullname(node["name"], namespace)
        if full in defined:
            return full
        defined.add(full)
        out = dict(node, name=full)
        out.pop("namespace", None)
        if kind == "record":
            out["fields"] = [dict(f, type=_expand(f["type"], full.rpartition(".")[0], index, defined,
                                                  f"{where}.{f['name']}")) for f in node["fields"]]
        return out
    if kind == "array":
        return dict(node, items=_expand(node["items"], namespace, index, defined, where))
    if kind == "map":
        return dict(node, values=_expand(node["values"], namespace, index, defined, where))
    return dict(node, type=_expand(kind, namespace, index, defined, where))


def load_schemas(schema_dir: Path | str = SCHEMA_DIR) -> dict[str, dict]:
    """`{value name: self-contained schema}` for every value in VALUES, read from `schema_dir/*.avsc`."""
    schema_dir = Path(schema_dir)
    index: dict[str, dict] = {}
    for path in sorted(schema_dir.glob("*.avsc")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise RegistryError(f"{path}: cannot read schema: {err}") from err
        _index(doc, "", index, path)
    out = {}
    for value in VALUES.values():
        if value.record not in index:
            raise RegistryError(f"{schema_dir / value.file}: no record {value.record} for value {value.name!r}")
        out[value.name] = _expand(value.record, "", index, set(), value.file)
    return out


def schema_sha256(schema: dict) -> str:
    """A fingerprint of the full schema text (docs and defaults included: both matter to readers)."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- local registry --------------------------------------------------------------------------------------
class LocalRegistry:
    """Ids from `schema_dir/ids.json`, writer schemas from `schema_dir/evolution/<id>.avsc`; no server."""

    def __init__(self, schema_dir: Path | str = SCHEMA_DIR):
        self.schema_dir = Path(schema_dir)
        self.manifest_path = self.schema_dir / "ids.json"
        try:
            self.manifest: dict[str, list[dict]] = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.manifest = {}
        except ValueError as err:
            raise RegistryError(f"{self.manifest_path}: not JSON: {err}") from err
        self._schemas: dict[int, dict] = {}

    def register(self, subject: str, schema: dict) -> int:
        """The id of this exact schema under `subject`; an error if it was never added to the manifest."""
        sha = schema_sha256(schema)
        for entry in self.manifest.get(subject, ()):
            if entry["sha256"] == sha:
                return entry["id"]
        raise RegistryError(f"{self.manifest_path}: subject {subject}: this schema version has no id; "
                            "run `python -m synsec.wire.registry bump` and commit schemas/")

    def get_schema(self, schema_id: int) -> dict:
        if schema_id not in self._schemas:
            path = self.schema_dir / "evolution" / f"{schema_id}.avsc"
            try:
                self._schemas[schema_id] = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise UnknownSchemaId(schema_id, f"no {path}") from None
            except ValueError as err:
                raise RegistryError(f"{path}: not JSON: {err}") from err
        return self._schemas[schema_id]


def bump(schema_dir: Path | str = SCHEMA_DIR) -> list[tuple[str, int, int]]:
    """Give every changed schema a new version and id in ids.json, keeping its text in evolution/.

    Returns `(subject, version, id)` for each new version. Past versions are never removed or renumbered.
    """
    schema_dir = Path(schema_dir)
    registry = LocalRegistry(schema_dir)
    manifest = registry.manifest
    next_id = 1 + max((e["id"] for entries in manifest.values() for e in entries), default=0)
    added = []
    for name, schema in load_schemas(schema_dir).items():
        subject = VALUES[name].subject
        entries = manifest.setdefault(subject, [])
        sha = schema_sha256(schema)
        if entries and entries[-1]["sha256"] == sha:
            continue
        version = 1 + max((e["version"] for e in entries), default=0)
        entries.append({"version": version, "id": next_id, "sha256": sha})
        (schema_dir / "evolution").mkdir(exist_ok=True)
        (schema_dir / "evolution" / f"{next_id}.avsc").write_text(
            json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        added.append((subject, version, next_id))
        next_id += 1
    registry.manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return added


# --- Confluent Schema Registry over HTTP -----------------------------------------------------------------
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class HttpRegistry:
    """A Confluent Schema Registry client: register a schema under a subject, fetch a writer schema by id.

    Both answers are cached. `auth` is `(user, password)` for HTTP basic auth (Confluent Cloud API keys).
    """

    def __init__(self, url: str, auth: tuple[str, str] | None = None, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Accept": _CONTENT_TYPE, "Content-Type": _CONTENT_TYPE}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, dict] = {}

    def __repr__(self) -> str:
        return f"HttpRegistry({self.url!r}, auth={'***' if 'Authorization' in self._headers else None})"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=self._headers)
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def _fail(self, what: str, err: Exception) -> RegistryError:
        if isinstance(err, urllib.error.HTTPError):
            try:
                detail = json.loads(err.read().decode("utf-8")).get("message", "")
            except (ValueError, AttributeError):
                detail = ""
            return RegistryError(f"schema registry {self.url}: {what}: HTTP {err.code} {detail}".rstrip())
        return RegistryError(f"schema registry {self.url}: {what}: {err}")

    def register(self, subject: str, schema: dict) -> int:
        key = (subject, schema_sha256(schema))
        if key not in self._ids:
            path = f"/subjects/{urllib.request.quote(subject, safe='')}/versions"
            try:
                answer = self._call("POST", path, {"schema": json.dumps(schema, separators=(",", ":"))})
                self._ids[key] = int(answer["id"])
            except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as err:
                raise self._fail(f"register subject {subject}", err) from err
            self._schemas.setdefault(self._ids[key], schema)
        return self._ids[key]

    def get_schema(self, schema_id: int) -> dict:
        if schema_id not in self._schemas:
            try:
                answer = self._call("GET", f"/schemas/ids/{int(schema_id)}")
                kind = answer.get("schemaType", "AVRO")
                if kind != "AVRO":      # a message framed by a Protobuf/JSON-Schema producer: not ours to read
                    raise UnknownSchemaId(schema_id, f"schema registry {self.url}: a {kind} schema, not Avro")
                self._schemas[schema_id] = json.loads(answer["schema"])
            except urllib.error.HTTPError as err:
                if err.code == 404:
                    raise UnknownSchemaId(schema_id, f"schema registry {self.url}") from None
                raise self._fail(f"get schema id {schema_id}", err) from err
            except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as err:
                raise self._fail(f"get schema id {schema_id}", err) from err
        return self._schemas[schema_id]


if __name__ == "__main__":   # python -m synsec.wire.registry bump [SCHEMA_DIR]
    if len(sys.argv) < 2 or sys.argv[1] != "bump":
        sys.exit("usage: python -m synsec.wire.registry bump [SCHEMA_DIR]")
    for subject, version, new_id in bump(sys.argv[2] if len(sys.argv) > 2 else SCHEMA_DIR):
        print(f"{subject}: version {version} -> id {new_id}")
