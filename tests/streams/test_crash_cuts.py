"""The buckets agent without a broker, crashed at every point of a batch's changelog: what it loads and reads
again gives replay's alerts, none lost and none with other counts (docs/kafka.md, crashes and restarts).

The buckets-in partition's messages are made by a real Router from the nginx and sshd samples, spread over three
source partitions and interleaved in small batches (as unkeyed lines arrive); the agent's state (`_Buckets`)
runs over a table that is a dict, its changelog the records each batch commits. A crash keeps the changelog of
the batches before and a prefix of the crashed batch's (its alerts were sent before it), loads a new agent from
that, and has it read the partition again from a committed offset at or before the crashed batch. CI tries
the cuts around each kind of record in three batches per batch size; SYNSEC_FUZZ_LONG=1 tries them all.
"""

from __future__ import annotations

import os
import random
import time
from types import SimpleNamespace

import pytest

from streams.agents import _Buckets
from streams.batching import Outbox
from streams.bucketstore import BucketCodec, PartitionStore
from streams.routing import Router
from synsec.assembly.build import EngineOptions, build_engine
from synsec.engine.model import Line
from synsec.wire.records import event_to_record
from tests.streams.topology_util import CODECS, REPO, read_lines
from topologies import load_topology

CHANGELOG = "synsec-buckets-changelog"
LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"      # every batch, every cut, both re-read points
SOURCES = 3


class _Table(dict):
    """What PartitionStore uses of a Faust table."""

    def __init__(self, data: dict, codec: BucketCodec):
        super().__init__()
        self.data = data
        self.value_serializer = codec
        self.changelog_topic = SimpleNamespace(get_topic_name=lambda: CHANGELOG)


_ENGINE: list = []


def _shell(data: dict, hold_max: int = 20_000, idle_advance_s: float = 0.0):
    """What `_Buckets` uses of the worker's Shell (one compiled engine for all: the agent keeps no state in it)."""
    if not _ENGINE:
        _ENGINE.append(build_engine(EngineOptions(reference_year=time.gmtime().tm_year)))
    engine, content = _ENGINE[0]
    codecs = CODECS
    counts: dict[str, int] = {}
    return SimpleNamespace(
        engine=engine, content=content, codecs=codecs, table=_Table(data, BucketCodec(codecs)),
        topology=load_topology("single"), parse_routes=True, buckets_partitions=1, marker_sources=SOURCES,
        settings=SimpleNamespace(hold_max=hold_max, idle_advance_s=idle_advance_s), counts=counts,
        count=lambda name, n=1: counts.__setitem__(name, counts.get(name, 0) + n))


def _dealt(shell) -> list[list]:
    """The samples' events (nginx and sshd) in time order, dealt to the SOURCES source partitions in turn."""
    lines = [(line, "nginx") for line in read_lines(REPO / "scenarios" / "samples" / "nginx-demo.log")]
    lines += [(line, "syslog") for line in read_lines(REPO / "scenarios" / "samples" / "auth-demo.log")]
    events = [e for e in (shell.engine.parse(Line(text, "t", {"type": t})) for text, t in lines) if e]
    events.sort(key=lambda e: e.ts)
    return [events[s::SOURCES] for s in range(SOURCES)]


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    """synsec.buckets-in's records: the samples' lines in time order, dealt to 3 sources, routed in batches of
    1-6 lines per source, interleaved at random; markers after each batch, idle markers at the end."""
    shell = _shell({})
    per_source = _dealt(shell)
    router, rng, out, cursor = Router(shell, origins=True), random.Random(3), Outbox(), [0] * SOURCES
    while any(cursor[s] < len(per_source[s]) for s in range(SOURCES)):
        s = rng.choice([s for s in range(SOURCES) if cursor[s] < len(per_source[s])])
        for evt in per_source[s][cursor[s]:cursor[s] + rng.randrange(1, 7)]:
            router.route(evt, shell.codecs.encode("event", event_to_record(evt)), out, s, cursor[s])
            cursor[s] += 1
        router.markers(out, [s])
    for s in range(SOURCES):
        router.handled(s, len(per_source[s]) - 1)
    router.idle_s = 0.0
    router.idle_markers(out, {s: len(per_source[s]) for s in range(SOURCES)})
    return [value for _key, value in out.records[("synsec.buckets-in", 0)]]


def _run(data: dict, messages: list[bytes], start: int, stop: int, batch: int, idle_advance_s: float = 0.0,
         before_each=None):
    """Feed messages[start:stop] in batches; per batch, (alerts, changelog records) as the agent sends them.
    `before_each()`, if given, is called before each message is taken."""
    state = _Buckets(_shell(data, idle_advance_s=idle_advance_s))
    consumer = SimpleNamespace(highwater=lambda tp: stop)       # the partition's end, as the worker's fetch says
    state.shell.app = SimpleNamespace(consumer=consumer)
    sent = []
    for b in range(start, stop, batch):
        out = Outbox()
        touched = {}
        for offset in range(b, min(b + batch, stop)):
            if before_each is not None:
                before_each()
            msg = SimpleNamespace(topic="synsec.buckets-in", partition=0, offset=offset, value=messages[offset],
                                  key=None, timestamp=0.0)
            part = state.take(SimpleNamespace(message=msg), out)
            if part is not None:
                touched[0] = part
        alerts = [_alert(v) for (topic, _p), recs in out.records.items() if topic == "synsec.alerts" for _k, v in recs]
        out = Outbox()
        for part in touched.values():
            part.store.commit(out, part.order.state())
        sent.append((alerts, out.records.get((CHANGELOG, 0), [])))
    return sent, state


def _alert(value: bytes) -> tuple:
    rec = CODECS.decode("alert", value)
    return rec["scenario"], rec["source"]["value"], rec["start_at"], rec["stop_at"], rec["events_count"], rec["uuid"]


def _recover(changelog: list) -> dict:
    """The table Faust recovers from these changelog records (values as bytes, the last one per key)."""
    data: dict = {}
    for key, value in changelog:
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_replay_reference(messages):
    """Without a crash, the agent raises replay's alerts, each once, and holds nothing at the end."""
    sent, state = _run({}, messages, 0, len(messages), 7)
    alerts = [a for batch_alerts, _c in sent for a in batch_alerts]
    assert len(alerts) == len(set(alerts)) >= 5
    assert state.held() == 0 and state.shell.counts.get("buckets.late", 0) == 0


def _kind(key: bytes, value) -> str:
    if key.startswith(b"\x00held\x00"):
        return "held" if value is not None else "released"
    if key.startswith(b"\x00marks\x00"):
        return "ledger"
    return "bucket" if value is not None else "gone"


def _cuts(changelog: list) -> list[int]:
    """Where to cut a batch's changelog: nothing, all, and around every change of kind (held records, buckets,
    released records' tombstones, ledger, deleted buckets' tombstones); every cut in the long mode."""
    if LONG:
        return list(range(len(changelog) + 1))
    kinds = [_kind(k, v) for k, v in changelog]
    cuts = {0, len(changelog)}
    for i in range(1, len(kinds)):
        if kinds[i] != kinds[i - 1]:
            cuts |= {i - 1, i, i + 1}
    return sorted(c for c in cuts if 0 <= c <= len(changelog))


@pytest.mark.parametrize("batch", [7, 40])
def test_a_crash_at_any_point_of_a_batchs_changelog_loses_nothing_and_counts_nothing_twice(messages, batch):
    """For batches that leave records held and cuts of their changelog (nothing, a prefix, all of it), and a
    re-read from that batch (and from the start), the alerts sent before the crash plus those after are
    replay's (same ids, counts, start and stop), with no alert of another count."""
    reference, _ = _run({}, messages, 0, len(messages), batch)
    expected = {a for alerts, _c in reference for a in alerts}
    crashes = [i for i, (_a, c) in enumerate(reference) if any(_kind(k, v) == "held" for k, v in c)]
    if not LONG:                      # the batch with the longest changelog in each third
        thirds = [crashes[i * len(crashes) // 3:(i + 1) * len(crashes) // 3] for i in range(3)]
        crashes = [max(t, key=lambda i: len(reference[i][1])) for t in thirds if t]
    tried = 0
    for crashed in crashes:
        changelog = reference[crashed][1]
        before = [rec for _a, c in reference[:crashed] for rec in c]
        sent_before = {a for alerts, _c in reference[:crashed + 1] for a in alerts}
        for cut in _cuts(changelog):
            for start in (crashed * batch, 0) if LONG or cut in (0, len(changelog)) else (crashed * batch,):
                after, _state = _run(_recover(before + changelog[:cut]), messages, start, len(messages), batch)
                got = sent_before | {a for alerts, _c in after for a in alerts}
                assert got == expected, (crashed, cut, start, got ^ expected)
                tried += 1
    print(f"{tried} crashes tried")
    assert tried >= 10


def test_a_successor_that_read_part_of_the_changelog_leaves_no_held_record_to_pour_twice(messages):
    """Regression (issue 11): a successor whose recovery read only a prefix of the changelog (it stopped early, or
    the previous owner, evicted, wrote its last batch after) takes the records of the unread part again, and
    holds and pours some of them within one batch; were their tombstones skipped (never written, as far as it
    could see), a later owner reading the whole changelog would load them as held and pour them twice."""
    reference, _ = _run({}, messages, 0, len(messages), 7)
    crashes = [i for i, (_a, c) in enumerate(reference) if any(_kind(k, v) == "held" for k, v in c)]
    codec = BucketCodec(CODECS)
    tried, left = 0, []
    for crashed in crashes[::max(1, len(crashes) // 4)]:
        changelog = reference[crashed][1]
        before = [rec for _a, c in reference[:crashed] for rec in c]
        for cut in _cuts(changelog)[:-1]:
            after, _state = _run(_recover(before + changelog[:cut]), messages, crashed * 7, len(messages), 40)
            whole = _recover(before + changelog + [rec for _a, c in after for rec in c])
            held = PartitionStore(_Table(whole, codec), 0, 1, codec).held()
            tried += 1
            if held:
                left.append((crashed, cut, [offset for offset, _v in held]))
    assert tried >= 10 and not left, (tried, left[:4])
