"""Avro codecs for every Kafka value, in Confluent wire format (byte 0, 4-byte big-endian schema id, body).

    codecs = Codecs(LocalRegistry())                 # or Codecs(HttpRegistry("http://registry:8081"))
    data = codecs.encode("event", event_to_record(evt))
    evt = record_to_event(codecs.decode("event", data))

A name is a value name of `synsec.wire.registry.VALUES` (event, bucket_in, alert, decision, dead_letter,
bucket_state) or its topic (`synsec.events`...). Decoding reads the *writer* schema named by the message's id
and resolves it against the current (reader) schema, so data written before a schema change stays readable.
Every schema is parsed once; data written with the current version is read without resolution (the fast path).
Decoding never registers a schema (a reader needs no write access to the registry); encoding registers the
current schema on first use.

A message that cannot be decoded raises `DecodeError` naming the value and the problem, for the agent to send
it to the dead-letter topic. A registry that cannot be reached raises `RegistryError` instead: that is an
outage to retry, not a bad message. Agents should consume raw bytes and decode themselves (a Faust value
serializer that raises cannot dead-letter the message).
"""

from __future__ import annotations

import struct
from io import BytesIO
from pathlib import Path

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from synsec.engine.errors import SynsecError
from synsec.wire.registry import SCHEMA_DIR, VALUES, Registry, UnknownSchemaId, Value, load_schemas, schema_sha256

__all__ = ["MAGIC", "HEADER_SIZE", "DecodeError", "EncodeError", "Codecs", "split_header", "avro_string",
           "avro_long", "origin_record", "bucket_in_content"]

MAGIC = 0
HEADER_SIZE = 5
_HEADER = struct.Struct(">BI")


class DecodeError(SynsecError):
    """Bytes that are not a valid message for the value they were read as. The message names what and why."""


class EncodeError(SynsecError):
    """A record that does not fit its schema (a programming or content error, never bad input)."""


def split_header(data: bytes, what: str = "message") -> tuple[int, int]:
    """(magic, schema id) of a Confluent-framed message; DecodeError if it is shorter than the header."""
    if len(data) < HEADER_SIZE:
        raise DecodeError(f"{what}: {len(data)} byte(s), shorter than the 5-byte Confluent header")
    return _HEADER.unpack_from(data)


def avro_long(n: int) -> bytes:
    """Avro binary of an int or long: its zig-zag varint."""
    n = (n << 1) ^ (n >> 63)
    head = bytearray()
    while n > 0x7F:
        head.append((n & 0x7F) | 0x80)
        n >>= 7
    head.append(n)
    return bytes(head)


def avro_string(text: str) -> bytes:
    """Avro binary of a string: zig-zag varint of the UTF-8 length, then the bytes."""
    data = text.encode("utf-8")
    return avro_long(len(data)) + data


_NO_ORIGIN = b"\x00"                     # union branch 0: null


def origin_record(origin: tuple[int, int, int] | None) -> dict | None:
    """The bucket_in `origin` field's record of (partition, offset, index)."""
    return None if origin is None else {"partition": origin[0], "offset": origin[1], "index": origin[2]}


def _origin(origin: tuple[int, int, int] | None) -> bytes:
    """Avro binary of a bucket_in `origin` (union branch 1: the Origin record) or of its null."""
    if origin is None:
        return _NO_ORIGIN
    partition, offset, index = origin
    return b"\x02" + avro_long(partition) + avro_long(offset) + avro_long(index)


def bucket_in_content(value: bytes, origin: tuple[int, int, int] | None) -> bytes:
    """A bucket_in value without its `origin` (the last field): what was routed, whatever routed it."""
    return value[:len(value) - len(_origin(origin))]


class _Current:
    __slots__ = ("value", "parsed", "schema", "sha256", "header", "schema_id", "same_ids")

    def __init__(self, value: Value, schema: dict):
        self.value = value
        self.schema = schema
        self.sha256 = schema_sha256(schema)
        self.parsed = parse_schema(schema)
        self.header: bytes | None = None
        self.schema_id = -1
        self.same_ids: set[int] = set()    # ids whose writer schema is exactly the current one: no resolution


class Codecs:
    """Encode and decode the Avro values of synsec's topics against one schema registry."""

    def __init__(self, registry: Registry, schema_dir: Path | str = SCHEMA_DIR):
        self.registry = registry
        self._current: dict[str, _Current] = {}
        for name, schema in load_schemas(schema_dir).items():
            cur = _Current(VALUES[name], schema)
            self._current[name] = cur
            if cur.value.topic:
                self._current[cur.value.topic] = cur
        self._writers: dict[int, tuple[str, dict, str]] = {}   # id -> (record name, parsed writer, sha256)

    def _get(self, name: str) -> _Current:
        try:
            return self._current[name]
        except KeyError:
            raise KeyError(f"no Avro value named {name!r}; known: {', '.join(VALUES)}") from None

    def schema_id(self, name: str) -> int:
        """The id the current schema of `name` is registered under (registers it on first use)."""
        cur = self._get(name)
        if cur.header is None:
            cur.schema_id = self.registry.register(cur.value.subject, cur.schema)
            cur.header = _HEADER.pack(MAGIC, cur.schema_id)
            cur.same_ids.add(cur.schema_id)
        return cur.schema_id

    def encode(self, name: str, record: dict | None) -> bytes | None:
        """Confluent-framed Avro bytes of `record`; None for a None record of a value with tombstones."""
        cur = self._get(name)
        if record is None:
            if cur.value.tombstones:
                return None
            raise EncodeError(f"{cur.value.name}: a null value is only allowed for tombstoned values")
        if cur.header is None:
            self.schema_id(name)
        buf = BytesIO()
        buf.write(cur.header)
        try:
            schemaless_writer(buf, cur.parsed, record)
        except Exception as err:     # fastavro raises TypeError, ValueError, AttributeError... on a bad record
            raise EncodeError(f"{cur.value.name}: record does not fit {cur.value.record}: "
                              f"{type(err).__name__}: {err}") from err
        return buf.getvalue()

    def bucket_in(self, scenario: str, key: str, event_data: bytes,
                  origin: tuple[int, int, int] | None = None) -> bytes:
        """The `bucket_in` value for an event already encoded as an `event` value (`event_data`), without
        encoding the event again: an Avro record is its fields' encodings in order (scenario, key, event,
        origin), so the event's body is reused as is. `origin`: (partition, offset, index) where the router read
        it. Data written with another event schema version is re-encoded."""
        event_id = self.schema_id("event")
        if split_header(event_data, "event")[1] != event_id:
            return self.encode("bucket_in", {
                "scenario": scenario, "key": key, "event": self.decode("event", event_data),
                "origin": origin_record(origin)})
        if self._current["bucket_in"].header is None:
            self.schema_id("bucket_in")
        return b"".join((self._current["bucket_in"].header, avro_string(scenario), avro_string(key),
                         memoryview(event_data)[HEADER_SIZE:], _origin(origin)))

    def _writer(self, schema_id: int, what: str) -> tuple[str, dict, str]:
        if schema_id not in self._writers:
            try:
                schema = self.registry.get_schema(schema_id)
            except UnknownSchemaId as err:
                raise DecodeError(f"{what}: {err}") from None
            try:
                parsed = parse_schema(schema)
            except Exception as err:
                raise DecodeError(f"{what}: writer schema id {schema_id} does not parse: {err}") from err
            name = parsed.get("name", "") if isinstance(parsed, dict) else ""
            self._writers[schema_id] = (name, parsed, schema_sha256(schema))
        return self._writers[schema_id]

    def decode(self, name: str, data: bytes | None) -> dict | None:
        """The record in `data`, read with the current schema; None for a tombstone of a tombstoned value."""
        cur = self._get(name)
        what = cur.value.name
        if data is None:
            if cur.value.tombstones:
                return None
            raise DecodeError(f"{what}: null value (tombstone) on a topic without tombstones")
        if data[:1] and data[0] != MAGIC:
            raise DecodeError(f"{what}: wrong magic byte 0x{data[0]:02x} (expected 0x00): not Confluent-framed "
                              f"Avro{' (JSON?)' if data[:1] in (b'{', b'[') else ''}")
        _magic, schema_id = split_header(data, what)
        if schema_id in cur.same_ids:
            writer, reader = cur.parsed, None
        else:
            record_name, writer, sha = self._writer(schema_id, what)
            if record_name != cur.value.record:
                raise DecodeError(f"{what}: message written with schema id {schema_id} ({record_name or 'no record'})"
                                  f", not {cur.value.record}")
            if sha == cur.sha256:
                cur.same_ids.add(schema_id)
                writer, reader = cur.parsed, None
            else:
                reader = cur.parsed
        buf = BytesIO(data)
        buf.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(buf, writer, reader)
        except Exception as err:     # EOFError, UnicodeDecodeError, IndexError, SchemaResolutionError...
            raise DecodeError(f"{what}: body does not decode with schema id {schema_id}: "
                              f"{type(err).__name__}: {err}") from err
        rest = len(data) - buf.tell()
        if rest:
            raise DecodeError(f"{what}: {rest} byte(s) left after the record (schema id {schema_id}): "
                              "truncated, garbage or another schema")
        return record
