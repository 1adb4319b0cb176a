"""Bucket state in a changelogged Faust table, seen by the engine as one partition's mapping.

The engine's `BucketManager` keeps `{(scenario, key): BucketState}` in any mutable mapping. In the worker that
mapping is `PartitionStore`: a view of the `buckets` table restricted to the keys of one `synsec.buckets-in`
partition (each bucket lives on exactly one partition, chosen by `partition_for`), so that every partition has
its own manager and its own event-time order (streams.ordering), and survives a restart through the table's
changelog. Besides the buckets, the table holds per partition its `Ledger` (which messages were taken, the
source markers) and the records waiting for event-time order (`held_key`), so that a crash loses none of them.

Each bucket value also records the offset of the buckets-in message that poured into it last. A message
redelivered after a crash (at-least-once: the changelog may be ahead of the committed offsets) is recognised by
the ledger and not taken twice, and a pour a crash cut short is recognised by that offset, so a bucket
half-filled before a SIGKILL overflows at the same event as without it.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import MutableMapping
from typing import Any, Iterator

from faust.serializers.codecs import Codec
from kafka.partitioner.default import murmur2

from synsec.wire.records import bucket_state_to_record, record_to_bucket_state
from synsec.engine.buckets.state import BucketState

__all__ = ["partition_for", "table_key", "split_table_key", "StoredBucket", "Ledger", "HeldValue", "marks_key",
           "held_key", "BucketCodec", "PartitionStore"]

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


class Ledger:
    """A table value that is not a bucket: one buckets-in partition's bookkeeping (streams.ordering).

    `marks`: per source partition, the origin `(offset, index)` of the newest routed record taken (streams.routing
    stamps each routed record with where it was read); `offset`: the newest buckets-in offset taken; `order`: the
    `Reorder` state (per-source markers, under the persisted key "watermarks"; release threshold, newest event
    time; the overflow lane's markers and threshold, absent from ledgers written before it)."""

    __slots__ = ("marks", "offset", "order")

    def __init__(self, marks: dict[int, tuple[int, int]], offset: int = -1, order: dict | None = None):
        self.marks = marks
        self.offset = offset
        self.order = order or {}

    def to_json(self) -> bytes:
        order = self.order
        return json.dumps({"marks": {str(p): m for p, m in self.marks.items()}, "offset": self.offset,
                           "watermarks": {str(p): t for p, t in order.get("watermarks", {}).items()},
                           "idle": order.get("idle", []), "threshold": order.get("threshold", -math.inf),
                           "newest": order.get("newest", -math.inf),
                           "overflow_marks": {str(p): t for p, t in order.get("overflow_marks", {}).items()},
                           "overflow_threshold": order.get("overflow_threshold", -math.inf)}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Ledger":
        d = json.loads(data)
        if "marks" not in d:                         # before event-time order: {partition: [offset, index]}
            return cls({int(p): (m[0], m[1]) for p, m in d.items()})
        return cls({int(p): (m[0], m[1]) for p, m in d["marks"].items()}, d["offset"],
                   {"watermarks": {int(p): t for p, t in d["watermarks"].items()}, "idle": d["idle"],
                    "threshold": d["threshold"], "newest": d["newest"],
                    "overflow_marks": {int(p): t for p, t in d.get("overflow_marks", {}).items()},
                    "overflow_threshold": d.get("overflow_threshold", -math.inf)})


class HeldValue:
    """A table value that is not a bucket: a synsec.buckets-in record held for event-time order, as read."""

    __slots__ = ("value",)

    def __init__(self, value: bytes):
        self.value = value


_MARKS = -2                  # BucketCodec: the offset field of a Ledger value (buckets hold offsets >= -1)
_HELD = -3                   # ... of a HeldValue
_GONE = -4                   # ... of a deleted bucket, followed by the offset that deleted it


def marks_key(partition: int) -> bytes:
    """The table key of a buckets-in partition's Ledger (NUL first: never a bucket's key)."""
    return b"\x00marks\x00%d" % partition


def held_prefix(partition: int) -> bytes:
    return b"\x00held\x00%d\x00" % partition


def held_key(partition: int, offset: int) -> bytes:
    """The table key of the record held at `offset` of a buckets-in partition."""
    return held_prefix(partition) + b"%d" % offset


class BucketCodec(Codec):
    """Faust value codec for the table: 8-byte offset + the Avro `bucket_state` value (Confluent framed);
    a Ledger is offset -2 + JSON, a held record -3 + the buckets-in value, a deleted bucket -4 + its offset."""

    def __init__(self, codecs=None, children=None, **kwargs: Any):
        super().__init__(children=children, codecs=codecs, **kwargs)
        self._codecs = codecs

    def _dumps(self, obj: Any) -> bytes:
        cls = obj.__class__
        if cls is Ledger:
            return _OFFSET.pack(_MARKS) + obj.to_json()
        if cls is HeldValue:
            return _OFFSET.pack(_HELD) + obj.value
        if obj.state is None:
            return _OFFSET.pack(_GONE) + _OFFSET.pack(obj.offset)
        return _OFFSET.pack(obj.offset) + self._codecs.encode("bucket_state", bucket_state_to_record(obj.state))

    def _loads(self, data: bytes) -> StoredBucket | Ledger | HeldValue:
        (offset,) = _OFFSET.unpack_from(data)
        if offset == _MARKS:
            return Ledger.from_json(data[_OFFSET.size:])
        if offset == _HELD:
            return HeldValue(bytes(data[_OFFSET.size:]))
        if offset == _GONE:
            return StoredBucket(None, _OFFSET.unpack_from(data, _OFFSET.size)[0])
        rec = self._codecs.decode("bucket_state", data[_OFFSET.size:])
        return StoredBucket(record_to_bucket_state(rec), offset)


class PartitionStore(MutableMapping):
    """The buckets of one partition, as `BucketManager` wants them; writes go through to the Faust table.

    `offset` is set by the agent before each pour to the buckets-in offset of the message that caused it (the
    record itself, or the marker that released it): writes record it, and `applied(bkey, offset)` tells whether
    that pour is already in the bucket (after a crash, the same messages cause the same pours again). The
    `ledger` says which messages were taken: `ledger.offset` the newest buckets-in offset, `seen(origin)` whether
    a routed record with that origin (or a later one from the same source) was (a source re-read after a crash is
    routed again under new buckets-in offsets, with the same origins). Records waiting for event-time order are
    kept under `held_key` (`hold`, `unhold`, `held()`).

    `end_at_load` is the partition's end offset when the store was loaded: a record below it may have been held
    by an earlier owner in changelog records this store never read (a recovery that stopped before the end of
    the changelog, the last batch of an owner evicted while still writing), so releasing it always writes its
    tombstone, held in this batch or not; otherwise a later owner reading the whole changelog would load it as
    held and pour it a second time (tests/streams/test_crash_cuts.py).

    Writes are held back (read-your-writes) until `commit()`, once per batch, so a bucket poured many times in
    a batch is written once, and a record held and released in the same batch never written: the agent first
    sends the alerts the batch produced and waits for the broker's ack, then commits, so a crash in between
    repeats the alert (at-least-once) instead of losing it. Faust flushes the producer before it commits the
    batch's offsets, so the changelog is never behind a committed offset. The changelog records of a batch go
    in this order, so that a crash part way through leaves a state the same messages read again put right:
    records newly held; buckets (a deleted one as a `_GONE` record with its offset); the released records'
    tombstones; the ledger; the deleted buckets' tombstones. Before the ledger, everything the batch took is
    taken again (held records past `ledger.offset` are ignored when loading), and every pour it made is
    recognised by its bucket's offset; a released record whose tombstone is missing is released again and its
    pour recognised the same way.
    """

    _DELETED = object()

    def __init__(self, table: MutableMapping, partition: int, partitions: int, codec: "BucketCodec",
                 end_at_load: float = 0):
        self.table = table
        self.partition = partition
        self.partitions = partitions
        self.codec = codec
        self.end_at_load = end_at_load
        self.offset = -1
        self.pending: dict[bytes, Any] = {}
        self.holding: dict[bytes, Any] = {}           # held records to write (HeldValue) or delete (_DELETED)
        ledger = self._from_table(marks_key(partition))
        self.ledger: Ledger = ledger if ledger is not None else Ledger({})
        self._ledger_changed = False

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

    def _state(self, raw: bytes) -> BucketState | None:
        stored = self._stored(raw)
        return None if stored is None else stored.state

    def seen(self, origin: tuple[int, int, int]) -> bool:
        """Whether the routed record read at `origin` (source partition, offset, index) was taken already."""
        mark = self.ledger.marks.get(origin[0])
        return mark is not None and (origin[1], origin[2]) <= mark

    def took(self, offset: int, origin: tuple[int, int, int] | None = None) -> None:
        """The message at `offset` has been taken (and the routed record read at `origin`, if any)."""
        ledger = self.ledger
        ledger.offset = offset
        if origin is not None:
            ledger.marks[origin[0]] = (origin[1], origin[2])
        self._ledger_changed = True

    def hold(self, offset: int, value: bytes) -> None:
        """Keep the buckets-in record read at `offset` (its bytes: `value`) until it is released."""
        self.holding[held_key(self.partition, offset)] = HeldValue(value)

    def unhold(self, offset: int) -> None:
        """The record held at `offset` has been poured."""
        raw = held_key(self.partition, offset)
        if raw not in self.table.data and offset >= self.end_at_load:
            self.holding.pop(raw, None)                 # held and released between two commits: never written
        else:
            self.holding[raw] = self._DELETED

    def held(self) -> list[tuple[int, bytes]]:
        """The records held in the table (offset, buckets-in value), those the ledger says were taken."""
        prefix, out = held_prefix(self.partition), []
        for raw in list(self.table.data.keys()):
            if raw.startswith(prefix):
                offset = int(raw[len(prefix):])
                if offset <= self.ledger.offset:        # past it: taken by a batch cut short, taken again
                    out.append((offset, self._from_table(raw).value))
        return out

    def applied(self, bkey: tuple[str, str], offset: int) -> bool:
        """Whether the table's bucket already holds the pours of the message at `offset` (a bucket this batch
        has written is this run's own: a message may pour several released records into it)."""
        raw = table_key(*bkey)
        if raw in self.pending:
            return False
        stored = self._from_table(raw)
        return stored is not None and stored.offset >= offset

    def __getitem__(self, bkey: tuple[str, str]) -> BucketState:
        state = self._state(table_key(*bkey))
        if state is None:
            raise KeyError(bkey)
        return state

    def get(self, bkey, default=None):
        state = self._state(table_key(*bkey))
        return default if state is None else state

    def __setitem__(self, bkey: tuple[str, str], state: BucketState) -> None:
        self.pending[table_key(*bkey)] = StoredBucket(state, self.offset)   # a new value, never mutated

    def __delitem__(self, bkey: tuple[str, str]) -> None:
        raw = table_key(*bkey)
        if self._state(raw) is None:
            raise KeyError(bkey)
        self.pending[raw] = StoredBucket(None, self.offset)                 # gone, and when (see commit)

    def commit(self, out, order: dict | None = None) -> None:
        """Write the held-back changes to the table's store, and their changelog records to `out` (an Outbox:
        one producer batch per changelog partition rather than one Faust send per key), in the order the class
        doc gives; `order` is the partition's `Reorder.state()`, for the ledger. Call it with Faust's current event on this partition (a RocksDB store files a key under the
        current event's partition)."""
        if not self.pending and not self.holding and not self._ledger_changed:
            return
        store, topic, dumps, p = self.table.data, self.changelog_topic(), self.codec.dumps, self.partition
        released = []
        for raw, held in self.holding.items():
            if held is self._DELETED:
                released.append(raw)
            else:
                store[raw] = held
                out.add(topic, p, raw, dumps(held))
        gone = []
        for raw, stored in self.pending.items():
            out.add(topic, p, raw, dumps(stored))
            if stored.state is None:
                store.pop(raw, None)
                gone.append(raw)
            else:
                store[raw] = stored
        for raw in released:
            store.pop(raw, None)
            out.add(topic, p, raw, None)
        if self._ledger_changed:
            raw = marks_key(p)
            ledger = self.ledger
            if order is not None:
                ledger.order = order
            store[raw] = Ledger(dict(ledger.marks), ledger.offset, dict(ledger.order))
            out.add(topic, p, raw, dumps(store[raw]))
            self._ledger_changed = False
        for raw in gone:
            out.add(topic, p, raw, None)
        self.pending.clear()
        self.holding.clear()

    def changelog_topic(self) -> str:
        return self.table.changelog_topic.get_topic_name()

    def _mine(self) -> Iterator[bytes]:
        keys = set(self.table.data.keys()) | set(self.pending)
        for raw in keys:
            if raw[:1] != b"\x00" and partition_for(raw, self.partitions) == self.partition and \
                    self._state(raw) is not None:
                yield raw

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for raw in self._mine():
            yield split_table_key(raw)

    def __len__(self) -> int:
        return sum(1 for _ in self._mine())
