"""Bucket state in a changelogged Faust table, seen by the engine as one partition's mapping.

The engine's `BucketManager` keeps `{(scenario, key): BucketState}` in any mutable mapping. In the worker that
mapping is `PartitionStore`: a view of the `buckets` table restricted to the keys of one `synsec.buckets-in`
partition (each bucket lives on exactly one partition, chosen by `partition_for`), so that every partition has
its own manager and its own event-time watermark, and survives a restart through the table's changelog.

Each table value also records the offset of the buckets-in message that produced it. A message redelivered
after a crash (at-least-once: the changelog may be ahead of the committed offsets) is recognised by that offset
and not poured twice, so a bucket half-filled before a SIGKILL overflows at the same event as without it.
"""

from __future__ import annotations

import json
import struct
from collections.abc import MutableMapping
from typing import Any, Iterator

from faust.serializers.codecs import Codec
from kafka.partitioner.default import murmur2

from synsec.wire.records import bucket_state_to_record, record_to_bucket_state
from synsec.engine.buckets.state import BucketState

__all__ = ["partition_for", "table_key", "split_table_key", "StoredBucket", "SourceMarks", "marks_key", "BucketCodec",
           "PartitionStore", "Watermarks"]

_SEP = "\x00"                # scenario names never hold NUL; a groupby value may hold anything after it
_OFFSET = struct.Struct(">q")


_HASHES: dict[bytes, int] = {}   # murmur2 in Python costs ~10 µs a key; keys (IPs, buckets) repeat
_HASHES_MAX = 200_000


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, as the Java client and kafka-python): same key, same partition."""
    h = _HASHES.get(key)
    if h is None:
        if len(_HASHES) >= _HASHES_MAX:
            _HASHES.clear()
        h = _HASHES[key] = murmur2(key) & 0x7FFFFFFF
    return h % partitions


def table_key(scenario: str, key: str) -> bytes:
    """The bucket's message key on synsec.buckets-in and its key in the table."""
    return f"{scenario}{_SEP}{key}".encode("utf-8", "surrogateescape")


def split_table_key(raw: bytes) -> tuple[str, str]:
    scenario, _, key = raw.decode("utf-8", "surrogateescape").partition(_SEP)
    return scenario, key


class StoredBucket:
    """A table value: the bucket's state and the buckets-in offset that last changed it."""

    __slots__ = ("state", "offset")

    def __init__(self, state: BucketState, offset: int):
        self.state = state
        self.offset = offset


class SourceMarks:
    """A table value that is not a bucket: per source partition, the origin `(offset, index)` of the newest routed
    record poured on one buckets-in partition (streams.routing stamps each routed record with where it was read)."""

    __slots__ = ("marks",)

    def __init__(self, marks: dict[int, tuple[int, int]]):
        self.marks = marks


_MARKS = -2                  # BucketCodec: the offset field of a SourceMarks value (buckets hold offsets >= -1)


def marks_key(partition: int) -> bytes:
    """The table key of a buckets-in partition's SourceMarks (NUL first: never a bucket's key)."""
    return b"\x00marks\x00%d" % partition


class BucketCodec(Codec):
    """Faust value codec for the table: 8-byte offset + the Avro `bucket_state` value (Confluent framed);
    a SourceMarks value is offset -2 + JSON `{partition: [offset, index]}`."""

    def __init__(self, codecs=None, children=None, **kwargs: Any):
        super().__init__(children=children, codecs=codecs, **kwargs)
        self._codecs = codecs

    def _dumps(self, obj: Any) -> bytes:
        if obj.__class__ is SourceMarks:
            return _OFFSET.pack(_MARKS) + json.dumps({str(p): m for p, m in obj.marks.items()}).encode()
        return _OFFSET.pack(obj.offset) + self._codecs.encode("bucket_state", bucket_state_to_record(obj.state))

    def _loads(self, data: bytes) -> StoredBucket | SourceMarks:
        (offset,) = _OFFSET.unpack_from(data)
        if offset == _MARKS:
            return SourceMarks({int(p): (m[0], m[1]) for p, m in json.loads(data[_OFFSET.size:]).items()})
        rec = self._codecs.decode("bucket_state", data[_OFFSET.size:])
        return StoredBucket(record_to_bucket_state(rec), offset)


class PartitionStore(MutableMapping):
    """The buckets of one partition, as `BucketManager` wants them; writes go through to the Faust table.

    `offset` is set by the agent before each message: writes record it, and `applied(bkey)` tells whether a
    redelivered message was already poured into that bucket. `seen(origin)` tells whether a routed record with
    that origin (or a later one from the same source) was poured on this partition: a source re-read after a
    crash is routed again under new buckets-in offsets, with the same origins. The marks are kept in the table
    too (`marks_key`) and written after the batch's buckets, so a crash between the two repeats pours that the
    per-bucket offsets still recognise rather than skipping pours that were lost.

    Writes are held back (read-your-writes) until `commit()`, once per batch, so a bucket poured many times in
    a batch is written once: the agent first sends the alerts the batch produced and waits for the broker's ack,
    then commits, so a crash in between repeats the alert (at-least-once) instead of losing it. Faust flushes
    the producer before it commits the batch's offsets, so the changelog is never behind a committed offset.
    """

    _DELETED = object()

    def __init__(self, table: MutableMapping, partition: int, partitions: int, codec: "BucketCodec"):
        self.table = table
        self.partition = partition
        self.partitions = partitions
        self.codec = codec
        self.offset = -1
        self.pending: dict[bytes, Any] = {}
        marks = self._from_table(marks_key(partition))
        self._marks: dict[int, tuple[int, int]] = dict(marks.marks) if marks is not None else {}
        self._marks_changed = False

    def _from_table(self, raw: bytes):
        stored = self.table.data.get(raw)
        if stored.__class__ is bytes:        # as recovered from the changelog: Faust hands back the bytes
            stored = self.codec.loads(stored)
        return stored

    def _stored(self, raw: bytes):
        stored = self.pending.get(raw)
        if stored is None:
            return self._from_table(raw)
        return None if stored is self._DELETED else stored

    def seen(self, origin: tuple[int, int, int]) -> bool:
        """Whether the routed record read at `origin` (source partition, offset, index) was poured already."""
        mark = self._marks.get(origin[0])
        return mark is not None and (origin[1], origin[2]) <= mark

    def mark(self, origin: tuple[int, int, int]) -> None:
        """The routed record read at `origin` has been poured."""
        self._marks[origin[0]] = (origin[1], origin[2])
        self._marks_changed = True

    def applied(self, bkey: tuple[str, str], offset: int) -> bool:
        stored = self._stored(table_key(*bkey))
        return stored is not None and stored.offset >= offset

    def __getitem__(self, bkey: tuple[str, str]) -> BucketState:
        stored = self._stored(table_key(*bkey))
        if stored is None:
            raise KeyError(bkey)
        return stored.state

    def get(self, bkey, default=None):
        stored = self._stored(table_key(*bkey))
        return default if stored is None else stored.state

    def __setitem__(self, bkey: tuple[str, str], state: BucketState) -> None:
        self.pending[table_key(*bkey)] = StoredBucket(state, self.offset)   # a new value, never mutated

    def __delitem__(self, bkey: tuple[str, str]) -> None:
        raw = table_key(*bkey)
        if self._stored(raw) is None:
            raise KeyError(bkey)
        self.pending[raw] = self._DELETED

    def commit(self, out) -> None:
        """Write the held-back changes to the table's store, and their changelog records to `out` (an Outbox:
        one producer batch per changelog partition rather than one Faust send per key). Call it with Faust's
        current event on this partition (a RocksDB store files a key under the current event's partition)."""
        if not self.pending and not self._marks_changed:
            return
        store, topic, dumps = self.table.data, self.changelog_topic(), self.codec.dumps
        for raw, stored in self.pending.items():
            if stored is self._DELETED:
                store.pop(raw, None)
                out.add(topic, self.partition, raw, None)
            else:
                store[raw] = stored
                out.add(topic, self.partition, raw, dumps(stored))
        self.pending.clear()
        if self._marks_changed:                     # last: see the class doc
            raw, marks = marks_key(self.partition), SourceMarks(dict(self._marks))
            store[raw] = marks
            out.add(topic, self.partition, raw, dumps(marks))
            self._marks_changed = False

    def changelog_topic(self) -> str:
        return self.table.changelog_topic.get_topic_name()

    def _mine(self) -> Iterator[bytes]:
        keys = set(self.table.data.keys()) | set(self.pending)
        for raw in keys:
            if raw[:1] != b"\x00" and partition_for(raw, self.partitions) == self.partition and \
                    self._stored(raw) is not None:
                yield raw

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for raw in self._mine():
            yield split_table_key(raw)

    def __len__(self) -> int:
        return sum(1 for _ in self._mine())


class Watermarks:
    """Event-time watermark of one buckets-in partition: the minimum over the upstream (routed) partitions.

    Every router (streams.routing: the parse agent's with inline routing, reading synsec.raw, else the route
    agent's, reading synsec.events) sends, per partition it reads, a marker with that partition's event time
    to every buckets-in partition. Timers may only fire when *every* upstream partition has passed them, or an
    event still in flight from a slower partition could find its bucket gone. Until all upstream partitions
    have reported, the watermark stays at -inf (pours still tick their own bucket lazily, so nothing is wrong,
    only later).
    """

    def __init__(self, upstream: int):
        self.upstream = upstream
        self.marks: dict[int, float] = {}

    def update(self, source: int, ts: float) -> float:
        if ts > self.marks.get(source, float("-inf")):
            self.marks[source] = ts
        if len(self.marks) < self.upstream:
            return float("-inf")
        return min(self.marks.values())
