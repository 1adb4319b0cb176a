"""`synsec curation`: the crowd's curation as a Faust app — `synsec.signals` in, `synsec.blocklist` out.

`synsec central --broker` produces each accepted signal to the topology's `signals` topic, keyed by source IP
(so every report about an address lands on one partition), as an Avro `Signal` whose labels carry when central
received it (`received_at`), the reporter's cohort (`cohort`) and whether it exceeds the reporter's burst limit
(`burst`: central sees all of a reporter's reports); time markers (key `tick:<time>`, no value) to every
partition every few seconds and at each new minute; and `cohort:<reporter>` records to every partition when a
registration changes cohorts (connectors/central/bus.py). Each partition runs its own `Curator`
(connectors/central/curation.py) over its addresses.

Trust is per reporter, not per address, so it is shared through the compacted **trust topic**
(`<app_id>-curation-trust`, one partition): decisions in minute *m* (an epoch) read trust as of the start of *m*, so
when a partition first sees a time in *m* it runs expiry through *m − 1*, publishes its counts of every reporter
that changed (`<partition>\\0<reporter>`: `[epoch of the last change, counts, counts before it]`), the co-foundings
of the collusion rule that grew (`<partition>\\0<a>\\0<b>`: `[[epoch, address]…]`) and then `<partition>\\0:done` = *m*;
it decides in *m* once every partition has published *m* (the events wait in order; other partitions go on), after
applying the collusion joins of *m* (`Curator.join`, from every partition's co-foundings: the same joins
everywhere). After a gap in time it first enters the epoch after the last one it saw (joins read that epoch's
trust), and enters the later epoch once every partition has saved its joins there (`<partition>\\0:joined` = that epoch):
the skipped epochs' expiry changes counts they read. Every worker follows the whole trust topic (`TrustTable`) and
sums the partitions' counts. So the blocklist is the one a single process computes (`synsec central` without a
broker), whatever the partition count, the worker count, restarts or rebalances; the price is that a decision in
minute *m* waits until every partition has seen a time in *m* (central's markers: a few seconds).

State: rows of the changelogged `curation` table — `<p>\\0ip\\0<address>`, `<p>\\0reporter\\0<name>`,
`<p>\\0pair\\0<a>\\0<b>` (co-foundings and the epoch of a join) and `<p>\\0meta` — each `[seq, value, value
before]`, the meta row written last with the batch's `seq`, the last signals offset applied, the last epoch whose
joins were applied and the last epoch it saw a message in. A worker that rebuilds a partition takes a row's value
before when its `seq` is newer than the meta's (a batch cut by a crash is undone whole), skips the offsets already
applied, and publishes its counts again. Listings and removals go to the compacted `blocklist` topic (key
`Ip:<address>`, JSON value, a tombstone on removal), which central follows into its store.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import faust

from connectors.central.bus import COHORT_PREFIX, TICK_PREFIX
from connectors.central.curation import NO_COUNTS, Curator, Listed, epoch_of
from connectors.central.pairs import forget_epochs
from connectors.central.rules import Rules
from streams.app import QUIET_LOGGERS, _App
from streams.batching import Outbox, ack_all, as_current, batches
from streams.bucketstore import partition_for
from streams.transport import guard_flow_resume, transport_class
from synsec.wire.codecs import Codecs, DecodeError
from synsec.wire.kafka import BrokerSettings
from synsec.wire.records import record_to_signal
from synsec.wire.registry import LocalRegistry
from topologies import CURATION_TABLE, Topology

__all__ = ["CurationSettings", "create_curation_app", "blocklist_record", "TrustTable"]

log = logging.getLogger(__name__)

_SEP = "\x00"
# A partition's marks on the trust topic, `<p>\0<mark>`, beside its reporters' counts, `<p>\0<reporter>`: a mark
# starts with ":", which no reporter's name holds (a watcher's machine id is 1-128 of A-Za-z0-9_.@-, checked at
# registration: connectors/central/server.py). Before this, the marks were "@" and "#" ("@" is a valid machine id):
# records of those keys left in a compacted topic hold an epoch, not a list, and are skipped (`TrustTable.apply`).
_DONE = ":done"
_JOINED = ":joined"


@dataclass(frozen=True)
class CurationSettings:
    broker: BrokerSettings
    topology: Topology
    rules: Rules
    scenarios: dict
    data_dir: Path = Path("/tmp/synsec-curation")
    session_timeout: float = 10.0
    verify_end_offsets: bool = False


def blocklist_record(change) -> tuple[bytes, bytes | None]:
    """The blocklist topic's key and value of a curation change (a removal is a tombstone)."""
    key = f"Ip:{change.value}".encode()
    if isinstance(change, Listed):
        return key, json.dumps({"value": change.value, "scenario": change.scenario, "until": change.until}).encode()
    return key, None


class TrustTable:
    """The trust topic as read so far: each partition's counts per reporter, its co-foundings per pair of
    reporters (the collusion rule) and the epoch it has finished."""

    def __init__(self, partitions: int):
        self.partitions = partitions
        self.done: dict[int, int] = {}
        self.joined: dict[int, int] = {}     # partition -> the last epoch whose collusion joins it applied
        self.records: dict[str, list] = {}      # reporter -> per partition (epoch, counts, base) or None
        self.pairs: dict[tuple[str, str], dict[int, list]] = {}    # pair -> partition -> [[epoch, address]…]
        self.partners: dict[str, set[tuple[str, str]]] = {}        # reporter -> its pairs
        self.by_epoch: dict[int, set[tuple[str, str]]] = {}        # epoch -> the pairs that co-founded in it
        self.changed = asyncio.Event()

    def apply(self, key: bytes, value: bytes | None) -> None:
        part, _, name = key.decode("utf-8", "surrogateescape").partition(_SEP)
        if not part.isdigit() or int(part) >= self.partitions:
            return
        if _SEP in name:                        # a pair's co-foundings on that partition
            pair = tuple(name.split(_SEP, 1))
            if value is None:
                self.pairs.get(pair, {}).pop(int(part), None)
                return
            seen = json.loads(value)
            self.pairs.setdefault(pair, {})[int(part)] = seen
            for name in pair:
                self.partners.setdefault(name, set()).add(pair)
            for epoch, _ in seen:
                self.by_epoch.setdefault(epoch, set()).add(pair)
            return
        if value is None:
            return
        rec = json.loads(value)
        if name in (_DONE, _JOINED):
            marks = self.done if name == _DONE else self.joined
            marks[int(part)] = max(marks.get(int(part), -1), int(rec))
            self.changed.set()
        elif isinstance(rec, list):         # not an old mark's epoch (above)
            per = self.records.setdefault(name, [None] * self.partitions)
            per[int(part)] = (rec[0], tuple(rec[1]), tuple(rec[2]))

    def all_joined(self, epoch: int) -> bool:
        """Whether every partition has applied (and saved) the collusion joins of `epoch`: nobody reads trust
        as of `epoch` any more."""
        return len(self.joined) == self.partitions and min(self.joined.values()) >= epoch

    def complete(self, epoch: int) -> bool:
        """Whether every partition has published its counts up to the start of `epoch`."""
        return len(self.done) == self.partitions and min(self.done.values()) >= epoch

    def counts(self, name: str, epoch: int) -> tuple:
        """A reporter's counts summed over the partitions, as they stood at the start of `epoch`."""
        per = self.records.get(name)
        if per is None:
            return NO_COUNTS
        total = list(NO_COUNTS)
        for rec in per:
            if rec is not None:
                c = rec[1] if rec[0] < epoch else rec[2]
                for i, n in enumerate(c):
                    total[i] += n
        return tuple(total)

    def founded(self, epoch: int):
        """The pairs that co-founded a listing in `epoch`, on any partition (Curator.pair_view)."""
        return self.by_epoch.get(epoch, ())

    def shared(self, pair: tuple[str, str], first: int, last: int) -> int:
        """How many listings `pair` co-founded in epochs `first`..`last`, summed over the partitions (an address
        is on one partition, so none is counted twice)."""
        return sum(1 for seen in self.pairs.get(pair, {}).values() for e, _ in seen if first <= e <= last)

    def founded_by(self, name: str, first: int, last: int) -> int:
        """How many listings `name` co-founded in epochs `first`..`last`, on any partition."""
        return len({(e, v) for pair in self.partners.get(name, ()) for seen in self.pairs[pair].values()
                    for e, v in seen if first <= e <= last})

    def forget(self, before: int) -> None:
        forget_epochs(self, before)

    async def wait(self, ready, timeout: float) -> bool:
        """Wait at most `timeout` seconds for `ready()` (`complete` or `all_joined` of an epoch) to hold."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not ready():
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.0, end - loop.time()))
            except asyncio.TimeoutError:
                return ready()
        return True


class _Part:
    """One signals partition on this worker: its curator, what it has applied and saved, what waits."""

    def __init__(self, curator: Curator, applied: int, seq: int, finished: int, joined: int, seen: int):
        self.cur, self.applied, self.seq, self.finished, self.joined = curator, applied, seq, finished, joined
        self.seen = seen                  # the newest epoch of a message applied (a gap starts after it)
        self.queue: deque = deque()       # events not applied yet, in order
        self.fed = applied                # the last offset queued
        self.nulls: list[bytes] = []      # rows of gone state, deleted once the next batch is saved
        self.event = None                 # the latest event of the partition (table writes go to its changelog)
        self.dirty = True                 # state to save
        self.republish = True             # publish every count again (after a rebuild)
        self.saved_joined = joined        # the joins the table holds (announced on the trust topic: `#`)
        self.announced = -1


class _Partitions:
    """A curator per signals partition, rebuilt from the table on first use."""

    def __init__(self, settings: CurationSettings, table, trust: TrustTable, trust_topic: str):
        self.rules, self.scenarios = settings.rules, settings.scenarios
        self.table, self.trust, self.trust_topic = table, trust, trust_topic
        self.parts: dict[int, _Part] = {}
        self.generation = 0               # revocations so far
        self.codecs = Codecs(LocalRegistry())

    def get(self, partition: int) -> _Part:
        part = self.parts.get(partition)
        if part is None:
            part = self.parts[partition] = self._rebuild(partition)
        return part

    def _rebuild(self, partition: int) -> _Part:
        prefix = f"{partition}{_SEP}"
        rows = {}
        for key, value in list(self.table.items()):
            text = key.decode("utf-8", "surrogateescape")
            if value is not None and text.startswith(prefix):
                rows[text[len(prefix):]] = json.loads(value)
        seq, applied, next_slot, finished, *rest = rows.pop("meta", [0, -1, None, -1, -1, -1])
        joined = rest[0] if rest else finished      # a row from before the collusion rule was shared
        seen = rest[1] if len(rest) > 1 else joined
        ips, reporters, pairs, undone = {}, {}, {}, {"ip": [], "reporter": [], "pair": []}
        for name, (tag, value, before) in rows.items():
            kind, _, what = name.partition(_SEP)
            if tag > seq:                   # a row of a batch cut by a crash: undone, and written again
                value = before
                undone[kind].append(what)
            if value is not None:
                {"ip": ips, "reporter": reporters, "pair": pairs}[kind][what] = value
        cur = Curator(self.rules, self.scenarios, track=True)
        cur.view, cur.pair_view = self.trust.counts, self.trust
        cur.load(reporters, ips, None, next_slot, pairs)
        cur.take_changes()
        cur.mark_changed(undone["ip"], undone["reporter"], undone["pair"])
        log.info("curation: partition %d rebuilt from the table: %d addresses, %d reporters, offset %d",
                 partition, len(ips), len(reporters), applied)
        return _Part(cur, applied, seq, finished, joined, seen)

    def feed(self, event) -> bool:
        """Queue an event of a partition (False: it was applied or queued already: ack it)."""
        part = self.get(event.message.partition)
        part.event = event
        if event.message.offset <= part.fed:
            return False
        part.fed = event.message.offset
        part.queue.append(event)
        return True

    def drain(self, out: Outbox, blocklist) -> tuple[list, list]:
        """Apply what can be applied: the events done, and what the partitions that wait wait for (checks)."""
        done, waiting = [], []
        for p, part in self.parts.items():
            if part.republish:
                self._publish(p, part, out, everything=True)
            if part.saved_joined > part.announced:
                out.add(self.trust_topic, 0, f"{p}{_SEP}{_JOINED}".encode(), str(part.saved_joined).encode())
                part.announced = part.saved_joined
            while part.queue:
                event = part.queue[0]
                need = self._apply(p, part, event.message, out, blocklist)
                if need is not None:
                    waiting.append(need)
                    break
                part.queue.popleft()
                part.applied = event.message.offset
                part.dirty = True
                done.append(event)
        return done, waiting

    def _apply(self, p: int, part: _Part, msg, out: Outbox, blocklist):
        """One message through the partition's curator; None when applied or skipped, else the check it waits
        for (every partition has finished an epoch, or applied its joins)."""
        key = msg.key or b""
        cur = part.cur
        if key.startswith(COHORT_PREFIX):
            if msg.value:
                cur.assign_cohort(key[len(COHORT_PREFIX):].decode("utf-8", "replace"), msg.value.decode())
            return None
        sig = None
        if msg.value is None:
            try:
                now = float(key[len(TICK_PREFIX):]) if key.startswith(TICK_PREFIX) else None
            except ValueError:
                now = None
        else:
            try:
                sig = record_to_signal(self.codecs.decode("signal", msg.value))
                now = float(sig.labels.get("received_at", ""))
            except (DecodeError, ValueError, KeyError, TypeError) as err:
                log.warning("curation: %s[%d]@%d is not a central signal: %s", msg.topic, msg.partition,
                            msg.offset, err)
                now = None
        if now is None:
            return None
        epoch = epoch_of(now)
        while part.joined < epoch:      # enter `epoch`; after a gap, first the epoch after the last one seen
            target = part.joined + 1 if 0 <= part.seen == part.joined < epoch - 1 else epoch
            if target > part.finished:
                if 0 <= part.joined < target - 1 and not self.trust.all_joined(part.joined):
                    return functools.partial(self.trust.all_joined, part.joined)   # (its expiry would change
                    # counts that partitions still joining at `joined` read)
                self._emit(cur.advance(target), out, blocklist)
                part.dirty = True
                part.finished = target
                self._publish(p, part, out)
            if not self.trust.complete(target):
                return functools.partial(self.trust.complete, target)
            self._emit(cur.join(target), out, blocklist)
            part.joined = target
            part.dirty = True
        part.seen = max(part.seen, epoch)
        changes = cur.tick(now)
        if sig is not None:
            cur.assign_cohort(sig.installation_id, sig.labels.get("cohort") or sig.installation_id)
            if sig.source.Scope == "Ip":
                changes += cur.ingest(sig.installation_id, [(sig.source.Value, sig.scenario, sig.scenario_hash)],
                                      now, [sig.labels.get("burst") == "1"])
        self._emit(changes, out, blocklist)
        return None

    def _publish(self, p: int, part: _Part, out: Outbox, everything: bool = False) -> None:
        """The partition's changed counts and co-foundings, then the epoch it has finished, on the trust topic."""
        cur = part.cur
        records = cur.trust_changes()
        pairs = cur.pair_changes()
        if everything:
            records = {name: cur.reporters[name].trust_record() for name in cur.reporters} | records
            pairs = {pair: sorted([e, v] for e, v in seen) for pair, seen in cur.pairs.seen.items()} | pairs
            part.republish = False
        for name, rec in sorted(records.items()):
            out.add(self.trust_topic, 0, f"{p}{_SEP}{name}".encode("utf-8", "surrogateescape"),
                    json.dumps(rec, separators=(",", ":")).encode())
        for (a, b), seen in sorted(pairs.items()):
            out.add(self.trust_topic, 0, f"{p}{_SEP}{a}{_SEP}{b}".encode("utf-8", "surrogateescape"),
                    json.dumps(seen, separators=(",", ":")).encode() if seen else None)
        if part.finished >= 0:
            out.add(self.trust_topic, 0, f"{p}{_SEP}{_DONE}".encode(), str(part.finished).encode())

    @staticmethod
    def _emit(changes, out: Outbox, blocklist) -> None:
        for change in changes:
            key, value = blocklist_record(change)
            out.add(blocklist.name, partition_for(key, blocklist.partitions), key, value)

    def unannounced(self) -> bool:
        """Whether a partition saved joins it has not announced yet (the next `drain` does)."""
        return any(part.saved_joined > part.announced for part in self.parts.values())

    def save(self, stream) -> None:
        """Write each changed partition's rows, then its meta row, to the table (its changelog partition)."""
        for p, part in self.parts.items():
            if not part.dirty or part.event is None:
                continue
            as_current(stream, part.event)
            ips, reporters, pairs = part.cur.take_changes()
            part.seq += 1
            nulls, part.nulls = part.nulls, []
            for kind, rows in (("ip", ips), ("reporter", reporters), ("pair", pairs)):
                for name, rec in rows.items():
                    key = f"{p}{_SEP}{kind}{_SEP}{name}".encode("utf-8", "surrogateescape")
                    old = self.table.get(key)
                    before = None
                    if old is not None:
                        tag, value, prior = json.loads(old)
                        before = value if tag < part.seq else prior
                    if rec is None and before is None:
                        self.table.pop(key, None)
                        continue
                    self.table[key] = json.dumps([part.seq, rec, before], separators=(",", ":")).encode()
                    if rec is None:
                        part.nulls.append(key)
            for key in nulls:                   # gone before the last saved batch: nothing to undo to
                if key not in part.nulls:
                    self.table.pop(key, None)
            self.table[f"{p}{_SEP}meta".encode()] = json.dumps(
                [part.seq, part.applied, part.cur.next_slot, part.finished, part.joined, part.seen]).encode()
            part.saved_joined = part.joined
            part.dirty = False


def create_curation_app(settings: CurationSettings) -> faust.App:
    """The Faust app of `synsec curation` on `settings.topology`'s signals and blocklist topics."""
    topo = settings.topology
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.getLogger(name).level, logging.INFO))
    signals, blocklist = topo.topics["signals"], topo.topics["blocklist"]
    settings.data_dir.mkdir(parents=True, exist_ok=True)      # Faust's worker starts in it
    app = _App(topo.curation_app_id, **settings.broker.faust_kwargs(), store="memory://", autodiscover=False,
               datadir=str(settings.data_dir), topic_partitions=signals.partitions, topic_allow_declare=True,
               topic_disable_leader=True, consumer_auto_offset_reset="earliest",
               broker_session_timeout=settings.session_timeout, broker_heartbeat_interval=1.0,
               broker_commit_interval=1.0, table_standby_replicas=0, web_enabled=False)
    app.transport_cls = transport_class(
        settings.broker.aiokafka_kwargs() if settings.verify_end_offsets else None, 50)
    guard_flow_resume(app)
    topic = app.topic(signals.name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                      partitions=signals.partitions, internal=False)
    table = app.Table(CURATION_TABLE, default=None, key_type=bytes, value_type=bytes, partitions=signals.partitions)
    table.key_serializer = table.value_serializer = "raw"   # before the store and changelog are made (lazily)
    trust = TrustTable(signals.partitions)
    parts = _Partitions(settings, table, trust, topo.curation_trust_topic)

    @app.on_partitions_revoked.connect
    async def _revoked(app_, revoked, **kwargs) -> None:
        parts.parts.clear()              # rebuilt from the table (recovered from its changelog) on next use
        parts.generation += 1

    @app.task
    async def _follow_trust() -> None:
        await _follow(settings.broker, topo.curation_trust_topic, trust)

    @app.agent(topic, name="curation", concurrency=1)
    async def curation(stream):
        stream_ = stream.noack()
        async for batch in batches(stream_, 500):
            done = [event for event in batch if not parts.feed(event)]
            while True:
                out, generation = Outbox(), parts.generation
                applied, waiting = parts.drain(out, blocklist)
                await asyncio.gather(*await out.send(app.producer))   # output durable before the state says so
                if parts.generation != generation:      # revoked meanwhile: its state is gone, not saved, so
                    await ack_all(stream_, done)        # what it applied is not acked (read again, as after a
                    break                               # crash)
                parts.save(stream_)
                await ack_all(stream_, done + applied)
                done = []
                if parts.unannounced():
                    continue
                if not waiting or not await _settle(trust, waiting, stream_.channel.queue, parts):
                    break

    return app


async def _settle(trust: TrustTable, waiting: list, queue, parts: _Partitions) -> bool:
    """Wait for one of the checks partitions wait for (True), unless messages arrive first (they may be what it
    waits for) or partitions are revoked (False). Unbounded: what it waits for may be another worker's partition
    that is late (starting, rebuilding) while this one gets no message (no central marks it: a replay's end, or
    central stopped); giving up would leave the agent waiting for a message that may never come."""
    generation = parts.generation
    while True:
        if await trust.wait(lambda: any(ready() for ready in waiting), 0.05):
            return True
        if not queue.empty() or parts.generation != generation:
            return False


async def _follow(broker: BrokerSettings, name: str, trust: TrustTable) -> None:
    """Read the trust topic from its start into `trust`, for as long as the worker runs."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**broker.aiokafka_kwargs(), enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=20)    # a decision waits for this read (tansu holds a fetch)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(name, 0)])
        await consumer.seek_to_beginning()
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    trust.apply(r.key or b"", r.value)
    finally:
        await consumer.stop()
