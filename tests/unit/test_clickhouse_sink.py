"""ClickHouseSink and the Kafka SinkLoop against fake clients/consumers: buffering, back-pressure, commits."""

from __future__ import annotations

from collections import namedtuple

import pytest

from connectors.clickhouse.consumer import SinkLoop
from connectors.clickhouse.rows import ALERT_COLUMNS, DECISION_COLUMNS, alert_row, decision_row
from connectors.clickhouse.sink import ClickHouseSink, SinkBackpressure
from synsec.engine.model import Alert, Decision, Source


class FakeClient:
    """Records inserts; fails while `down` is set (shared state across the factory's clients)."""

    def __init__(self, world):
        self.world = world

    def execute(self, query, rows=None):
        if self.world["down"]:
            raise ConnectionRefusedError("down")
        table = query.split()[2]
        self.world["fail_table"] == table and self._fail()
        self.world.setdefault(table, []).extend(rows)

    def _fail(self):
        raise ConnectionResetError("reset")

    def disconnect(self):
        self.world["disconnects"] += 1


def world():
    return {"down": False, "fail_table": None, "disconnects": 0}


def alert(i: int) -> Alert:
    a = Alert("s/x", Source("Ip", f"10.0.0.{i}", f"10.0.0.{i}"), 1, 1000.0 + i, 1001.0 + i,
              Events=[{"timestamp": 1000.0 + i, "meta": {"k": "v"}}])
    a.UUID = f"id{i}"
    return a


def decision(i: int) -> Decision:
    return Decision("synsec", "s/x", "Ip", f"10.0.0.{i}", "ban", 60, 1061.0 + i, id=f"id{i}-0", alert_id=f"id{i}")


def test_rows_match_columns():
    """Alert and Decision rows have exactly one value per declared column, the id first."""
    assert len(alert_row(alert(1))) == len(ALERT_COLUMNS) and alert_row(alert(1))[0] == "id1"
    assert len(decision_row(decision(1))) == len(DECISION_COLUMNS) and decision_row(decision(1))[0] == "id1-0"


def test_missing_ids_are_deterministic():
    """Records without an id get one derived from their content: the same record twice → the same id."""
    a, b = alert(1), alert(1)
    a.UUID = b.UUID = ""
    assert alert_row(a)[0] == alert_row(b)[0] != ""
    d1, d2 = decision(1), decision(1)
    d1.id = d2.id = ""
    assert decision_row(d1)[0] == decision_row(d2)[0] != "" and decision_row(d1)[0] != decision_row(decision(2))[0]


def test_unknown_record_type_is_refused():
    """Something that is neither an Alert nor a Decision raises TypeError instead of being buffered."""
    sink = ClickHouseSink(lambda: FakeClient(world()))
    with pytest.raises(TypeError):
        sink.add({"scenario": "x"})
    assert sink.buffered == 0


def test_backpressure_refuses_instead_of_dropping():
    """With ClickHouse down, add() refuses past max_buffer, and every accepted row is inserted later."""
    w = world()
    w["down"] = True
    sink = ClickHouseSink(lambda: FakeClient(w), batch_size=2, max_age_s=1, max_buffer=5, retry_initial_s=0)
    for i in range(5):
        sink.add(alert(i), ("p", i))
        sink.flush()
    with pytest.raises(SinkBackpressure):
        sink.add(alert(5), ("p", 5))
    assert sink.buffered == 5 and sink.stats.failures == 5
    w["down"] = False
    flushed = sink.flush()
    assert [r[0] for r in w["alerts"]] == [f"id{i}" for i in range(5)]
    assert flushed.positions == {"p": 4} and flushed.rows == {"alerts": 5} and sink.buffered == 0


def test_partial_failure_withholds_positions_and_does_not_resend():
    """Alerts stored but decisions failing: no position is reported, and the retry sends only decisions."""
    w = world()
    w["fail_table"] = "decisions"
    sink = ClickHouseSink(lambda: FakeClient(w), batch_size=10, max_age_s=1, retry_initial_s=0)
    sink.add(alert(1), ("a", 7))
    sink.add(decision(1), ("d", 3))
    assert sink.flush() is None
    assert len(w["alerts"]) == 1 and w["disconnects"] == 1 and sink.buffered == 1
    w["fail_table"] = None
    flushed = sink.flush()
    assert flushed.positions == {"a": 7, "d": 3} and flushed.rows == {"decisions": 1}
    assert len(w["alerts"]) == 1 and len(w["decisions"]) == 1


def test_skip_positions_wait_for_earlier_rows():
    """A skipped position (tombstone, dead letter) is reported only with the flush of the rows before it."""
    w = world()
    w["down"] = True
    sink = ClickHouseSink(lambda: FakeClient(w), batch_size=10, max_age_s=1, retry_initial_s=0)
    sink.add(alert(1), ("p", 0))
    sink.skip(("p", 1))
    assert sink.flush() is None
    w["down"] = False
    assert sink.flush().positions == {"p": 1}


def test_batches_are_split_by_batch_size():
    """A buffer larger than batch_size is inserted in batch_size chunks."""
    w = world()
    sink = ClickHouseSink(lambda: FakeClient(w), batch_size=3, max_age_s=1, max_buffer=10)
    for i in range(7):
        sink.add(alert(i))
    sink.flush()
    assert sink.stats.batches == 3 and len(w["alerts"]) == 7


def test_flush_blocking_sleeps_the_backoff():
    """flush_blocking sleeps the back-off delays between attempts until an insert succeeds."""
    w = world()
    w["down"] = True
    now, slept = [0.0], []

    def sleep(s):
        slept.append(s)
        now[0] += s
        if len(slept) == 3:
            w["down"] = False

    sink = ClickHouseSink(lambda: FakeClient(w), batch_size=5, max_age_s=1, retry_initial_s=0.5,
                          clock=lambda: now[0], sleep=sleep)
    sink.add(alert(1))
    assert sink.flush_blocking() is not None
    assert slept == [0.5, 1.0, 2.0] and len(w["alerts"]) == 1


# --- SinkLoop with a fake kafka consumer ---

Record = namedtuple("Record", "topic partition offset key value")


class FakeConsumer:
    def __init__(self, batches):
        self.batches = list(batches)
        self.commits, self.seeks, self.paused_parts = [], [], set()
        self.assigned = {"tp0"}

    def poll(self, timeout_ms, max_records):
        if self.paused_parts or not self.batches:
            return {}
        return self.batches.pop(0)

    def commit(self, offsets):
        self.commits.append({tp: om.offset for tp, om in offsets.items()})

    def seek(self, tp, offset):
        self.seeks.append((tp, offset))

    def assignment(self):
        return self.assigned

    def pause(self, *parts):
        self.paused_parts |= set(parts)

    def resume(self, *parts):
        self.paused_parts -= set(parts)

    def paused(self):
        return set(self.paused_parts)


def decode(topic, value):
    if value == b"poison":
        raise ValueError("bad avro")
    if value is None:
        return None
    return alert(int(value))


def test_loop_commits_only_after_flush():
    """Offsets are committed (offset+1) only by the step whose flush stored the rows."""
    w = world()
    sink = ClickHouseSink(lambda: FakeClient(w), batch_size=3, max_age_s=3600)
    consumer = FakeConsumer([{"tp0": [Record("synsec.alerts", 0, o, None, str(o).encode()) for o in (0, 1)]},
                             {"tp0": [Record("synsec.alerts", 0, 2, None, b"2")]}])
    loop = SinkLoop(consumer, sink, decode, dead_letter=lambda r, e: None)
    loop.step()
    assert consumer.commits == [] and "alerts" not in w
    loop.step()
    assert consumer.commits == [{"tp0": 3}] and len(w["alerts"]) == 3


def test_poison_message_goes_to_dead_letter_and_tombstone_is_skipped():
    """An undecodable record reaches the dead-letter callback; both it and a tombstone are committed past."""
    w, dead = world(), []
    sink = ClickHouseSink(lambda: FakeClient(w), batch_size=1, max_age_s=3600)
    consumer = FakeConsumer([{"tp0": [Record("synsec.alerts", 0, 0, None, b"poison"),
                                      Record("synsec.decisions", 0, 1, b"Ip:1", None),
                                      Record("synsec.alerts", 0, 2, None, b"2")]}])
    loop = SinkLoop(consumer, sink, decode, dead_letter=lambda r, e: dead.append((r.offset, str(e))))
    loop.step()
    assert dead == [(0, "bad avro")] and loop.stats.empty == 1 and loop.stats.dead_lettered == 1
    assert consumer.commits == [{"tp0": 3}] and [r[0] for r in w["alerts"]] == ["id2"]


def test_dead_letter_failure_is_not_committed():
    """If the dead-letter callback fails, the loop stops before committing the poison record."""
    sink = ClickHouseSink(lambda: FakeClient(world()), batch_size=1, max_age_s=3600)
    consumer = FakeConsumer([{"tp0": [Record("synsec.alerts", 0, 0, None, b"poison")]}])

    def dead_letter(record, err):
        raise RuntimeError("dlq down")

    with pytest.raises(RuntimeError):
        SinkLoop(consumer, sink, decode, dead_letter=dead_letter).step()
    assert consumer.commits == []


def test_loop_pauses_and_rewinds_under_backpressure():
    """ClickHouse down: the loop rewinds to the first record the full sink refused, pauses its partitions,
    and resumes and commits everything once inserts work again."""
    w = world()
    w["down"] = True
    sink = ClickHouseSink(lambda: FakeClient(w), batch_size=2, max_age_s=1, max_buffer=3, retry_initial_s=0)
    consumer = FakeConsumer([{"tp0": [Record("synsec.alerts", 0, o, None, str(o).encode()) for o in range(5)]}])
    loop = SinkLoop(consumer, sink, decode, dead_letter=lambda r, e: None, max_records=2)
    loop.step()
    assert consumer.seeks == [("tp0", 3)] and sink.buffered == 3 and consumer.commits == []
    loop.step()
    assert consumer.paused_parts == {"tp0"} and loop.stats.paused == 1
    w["down"] = False
    consumer.batches.append({"tp0": [Record("synsec.alerts", 0, o, None, str(o).encode()) for o in (3, 4)]})
    loop.step()                                   # flush succeeds → commit → still paused this round
    loop.step()                                   # resumed: takes 3 and 4
    loop.run(stop=lambda: not consumer.batches and sink.buffered == 0)
    assert [r[0] for r in w["alerts"]] == [f"id{i}" for i in range(5)]
    assert consumer.commits[0] == {"tp0": 3} and consumer.commits[-1] == {"tp0": 5}
