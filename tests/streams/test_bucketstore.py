"""PartitionStore without a broker: the ledger that stops a re-routed record from being poured twice, the held
records, and the order of a batch's changelog records."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from streams.batching import Outbox
from streams.bucketstore import (BucketCodec, Ledger, PartitionStore, held_key, marks_key, partition_for,
                                 table_key)
from synsec.wire.codecs import Codecs
from synsec.wire.registry import LocalRegistry
from synsec.engine.buckets.state import BucketState

TOPIC = "synsec-buckets-changelog"


@pytest.fixture
def codec():
    return BucketCodec(Codecs(LocalRegistry()))


def _table():
    return SimpleNamespace(data={}, changelog_topic=SimpleNamespace(get_topic_name=lambda: TOPIC))


def _recovered(out: Outbox, partition: int) -> SimpleNamespace:
    """A table as Faust recovers it from the changelog records in `out`: the values as bytes, last one wins."""
    table = _table()
    for key, value in out.records[(TOPIC, partition)]:
        if value is None:
            table.data.pop(key, None)
        else:
            table.data[key] = value
    return table


def test_marks_survive_the_changelog_and_stay_out_of_the_buckets(codec):
    """Marks are per source partition, compare (offset, index), go to the changelog in the ledger after the
    buckets, come back from it, and are never listed as a bucket."""
    bkey = ("ssh-bf", "192.0.2.7")
    part = partition_for(table_key(*bkey), 4)
    store = PartitionStore(_table(), part, 4, codec)
    assert not store.seen((0, 0, 0))
    store.offset = 7
    store[bkey] = BucketState(first_ts=1.0, last_ts=1.0, count=1)
    store.took(7, (0, 10, 1))
    store.took(8, (2, 5, 0))
    assert store.seen((0, 10, 0)) and store.seen((0, 10, 1)) and store.seen((0, 9, 3))
    assert not store.seen((0, 10, 2)) and not store.seen((0, 11, 0)) and not store.seen((1, 0, 0))
    out = Outbox()
    store.commit(out, {"watermarks": {0: 3.0, 1: math.inf}, "idle": [1], "threshold": 3.0, "newest": 4.0})
    keys = [k for k, _v in out.records[(TOPIC, part)]]
    assert keys == [table_key(*bkey), marks_key(part)]                      # the ledger last
    assert list(store) == [bkey] and len(store) == 1

    again = PartitionStore(_recovered(out, part), part, 4, codec)
    assert again.seen((0, 10, 1)) and again.seen((2, 5, 0)) and not again.seen((2, 6, 0))
    assert again[bkey].count == 1 and list(again) == [bkey] and again.ledger.offset == 8
    assert again.ledger.order == {"watermarks": {0: 3.0, 1: math.inf}, "idle": [1], "threshold": 3.0, "newest": 4.0,
                                  "overflow_marks": {}, "overflow_threshold": -math.inf}


def test_a_batch_that_only_moves_marks_is_committed(codec):
    """A batch that poured nothing still writes its ledger; a batch that changed nothing writes nothing."""
    store = PartitionStore(_table(), 0, 1, codec)
    store.took(0, (0, 3, 0))
    out = Outbox()
    store.commit(out)
    assert [k for k, _v in out.records[(TOPIC, 0)]] == [marks_key(0)]
    out = Outbox()
    store.commit(out)                                     # nothing changed since
    assert not out.records


def test_ledger_codec_round_trip_and_the_old_marks_format(codec):
    """The ledger survives the codec, infinities included; a value written before event-time order (only the
    marks) still loads, and one written before the overflow lane gets it empty."""
    ledger = Ledger({0: (12, 3), 5: (2**40, 0)}, 41, {"watermarks": {0: -math.inf, 1: math.inf}, "idle": [1],
                                                      "threshold": 2.5, "newest": 9.0, "overflow_marks": {3: 2.0},
                                                      "overflow_threshold": 1.5})
    back = codec.loads(codec.dumps(ledger))
    assert isinstance(back, Ledger) and (back.marks, back.offset, back.order) == (ledger.marks, 41, ledger.order)
    before = Ledger.from_json(b'{"marks": {}, "offset": 3, "watermarks": {}, "idle": [], "threshold": 1.0, '
                              b'"newest": 2.0}')
    assert before.order["overflow_marks"] == {} and before.order["overflow_threshold"] == -math.inf
    old = codec.loads(b"\xff" * 7 + b"\xfe" + b'{"0": [12, 3]}')
    assert old.marks == {0: (12, 3)} and old.offset == -1 and old.order == {}


def test_held_records_and_deleted_buckets_in_the_changelog(codec):
    """Held records are written in front of the buckets and their tombstones after; a record held and released
    between two commits is never written; a deleted bucket goes out as a record carrying the offset that deleted
    it, before the ledger, and its tombstone after. A store loaded from any cut of that changelog ignores held
    records the ledger has not taken, and tells a pour already made by its bucket's offset."""
    bkey = ("ssh-bf", "192.0.2.7")
    part = partition_for(table_key(*bkey), 2)
    store = PartitionStore(_table(), part, 2, codec)
    store.offset = 1
    store[bkey] = BucketState(first_ts=1.0, last_ts=1.0, count=1)
    store.hold(2, b"two")
    store.hold(3, b"three")
    store.unhold(3)
    store.took(3)
    out = Outbox()
    store.commit(out)
    assert [k for k, _v in out.records[(TOPIC, part)]] == [held_key(part, 2), table_key(*bkey), marks_key(part)]
    first = out.records[(TOPIC, part)]
    store.offset = 4
    del store[bkey]
    store.unhold(2)
    store.took(4)
    assert store.get(bkey) is None and not store.applied(bkey, 4)
    out = Outbox()
    store.commit(out)
    second = out.records[(TOPIC, part)]
    assert [(k, v is None) for k, v in second] == [(table_key(*bkey), False), (held_key(part, 2), True),
                                                  (marks_key(part), False), (table_key(*bkey), True)]
    assert list(store) == [] and store.held() == []
    for cut in range(len(second) + 1):
        recovered = Outbox()
        recovered.records[(TOPIC, part)] = first + second[:cut]
        again = PartitionStore(_recovered(recovered, part), part, 2, codec)
        taken = again.ledger.offset
        assert taken == (4 if cut >= 3 else 3)
        assert again.held() == ([] if cut >= 2 else [(2, b"two")])
        assert again.applied(bkey, 4) is (cut in (1, 2, 3))            # deleted by offset 4, until the tombstone
        assert (again.get(bkey) is None) is (cut >= 1) and list(again) == ([] if cut else [bkey])
