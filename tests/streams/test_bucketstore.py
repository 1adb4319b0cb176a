"""PartitionStore without a broker: the per-partition marks that stop a re-routed record from being poured twice."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from streams.batching import Outbox
from streams.bucketstore import BucketCodec, PartitionStore, SourceMarks, marks_key, partition_for, table_key
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
    """Marks are per source partition, compare (offset, index), go to the changelog after the buckets, come back
    from it, and are never listed as a bucket."""
    bkey = ("ssh-bf", "192.0.2.7")
    part = partition_for(table_key(*bkey), 4)
    store = PartitionStore(_table(), part, 4, codec)
    assert not store.seen((0, 0, 0))
    store.offset = 7
    store[bkey] = BucketState(first_ts=1.0, last_ts=1.0, count=1)
    store.mark((0, 10, 1))
    store.mark((2, 5, 0))
    assert store.seen((0, 10, 0)) and store.seen((0, 10, 1)) and store.seen((0, 9, 3))
    assert not store.seen((0, 10, 2)) and not store.seen((0, 11, 0)) and not store.seen((1, 0, 0))
    out = Outbox()
    store.commit(out)
    keys = [k for k, _v in out.records[(TOPIC, part)]]
    assert keys == [table_key(*bkey), marks_key(part)]                      # the marks last
    assert list(store) == [bkey] and len(store) == 1

    again = PartitionStore(_recovered(out, part), part, 4, codec)
    assert again.seen((0, 10, 1)) and again.seen((2, 5, 0)) and not again.seen((2, 6, 0))
    assert again[bkey].count == 1 and list(again) == [bkey]


def test_a_batch_that_only_moves_marks_is_committed(codec):
    store = PartitionStore(_table(), 0, 1, codec)
    store.mark((0, 3, 0))
    out = Outbox()
    store.commit(out)
    assert [k for k, _v in out.records[(TOPIC, 0)]] == [marks_key(0)]
    out = Outbox()
    store.commit(out)                                     # nothing changed since
    assert not out.records


def test_marks_codec_round_trip(codec):
    marks = SourceMarks({0: (12, 3), 5: (2**40, 0)})
    back = codec.loads(codec.dumps(marks))
    assert isinstance(back, SourceMarks) and back.marks == marks.marks
