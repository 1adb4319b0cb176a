"""Trust across partitions (issue 12): the curation topology on the real bundled broker (tansu) lists exactly
what one process lists — with 1 or 4 signals partitions, 1 or 2 `synsec curation` workers, and a worker
SIGKILLed midway and replaced — for a crowd whose trust decides (corroboration, uncorroborated noise,
known-good reports, a burst, a cohort that forms after its members reported) and whose cohorts the collusion
rule joins (a sybil ring whose listings, on several partitions, are removed once its pairs are joined)."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import tempfile
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from connectors.central.bus import SignalBus
from connectors.central.curation import EPOCH, Curator, Removed
from connectors.central.rules import parse_rules
from connectors.central.signals import Signal
from connectors.central.store import CentralStore
from connectors.kafka.admin import ensure_topics
from streams.bucketstore import partition_for
from streams.curation import blocklist_record
from synsec.wire.kafka import BrokerSettings
from tests.streams.test_crash_cuts import _recover as final     # what a compacted topic keeps
from tests.streams.test_curation_topology import SYNSEC, Proc
from topologies import TOPOLOGY_DIR, load_topology

pytestmark = [pytest.mark.integration, pytest.mark.slow]

H = "c" * 64
SCEN = "crowdsecurity/http-probing"
HUB = {SCEN: (frozenset({H}), "http")}
T0 = 1_800_000_000.0
RULES_TEXT = "decay: 2h\nconsensus: {window: 6h}\ntrust: {burst: {max_reports: 40}}\ncollusion: {max_shared: 3, window: 1h}\n"
SYBIL_TARGETS = [f"64.20.{j}.9" for j in range(8)]


def crowd(seed: int = 7) -> list[tuple]:
    """A day and a half of a small crowd, in central's order: ("register", name, address, at) and
    ("signals", watcher, [address…], at)."""
    rng = random.Random(seed)
    out: list[tuple] = []
    honest = [f"h{i}" for i in range(12)]
    for i, name in enumerate(honest):
        out.append(("register", name, f"{20 + i}.1.{i}.9", T0 - 86400 + i * 3600))
    for k in range(3):                           # a sybil ring: unrelated networks, registered days apart
        out.append(("register", f"s{k}", f"{150 + k}.7.3.1", T0 - (10 - 3 * k) * 86400))
    attackers = [f"45.{rng.randrange(1, 250)}.{rng.randrange(250)}.{i}" for i in range(150)]
    now = T0
    for step in range(100):                      # every ~10 simulated minutes
        now += rng.choice((61.0, 600.0, 1100.0))
        for ip in rng.sample(attackers, 2):
            for who in rng.sample(honest, rng.choice((1, 1, 2, 3, 4))):
                out.append(("signals", who, [ip], now + rng.random()))
        if step % 3 == 0:                        # noise nobody confirms: costs trust when it leaves the window
            who = rng.choice(honest[:2])
            out.append(("signals", who, [f"77.{step % 250}.{k}.1" for k in range(12)], now + 1.5))
        if step % 20 == 5:                       # a known-good address
            out.append(("signals", rng.choice(honest[8:]), ["8.8.8.8"], now + 2))
        if step == 40:                           # … lists targets together, until its pairs are joined
            for j, ip in enumerate(SYBIL_TARGETS):
                for k in range(3):
                    out.append(("signals", f"s{k}", [ip], now + 20 + 15 * j + k))
        if step == 30:                           # a burst: 60 addresses in one batch (limit 40 an hour)
            out.append(("signals", "h11", [f"46.1.{k}.{k}" for k in range(60)], now + 3))
        if step == 60:                           # a ring: three reporters, each alone at first …
            for k in range(3):
                out.append(("register", f"r{k}", f"{90 + k}.2.2.2", now + 4 + k))
        if 60 < step < 95 and step % 4 == 0:
            for k in range(3):
                out.append(("signals", f"r{k}", [f"93.{step}.0.1"], now + 5 + k))
        if step == 80:                           # … then a registration burst makes them one cohort
            for k in range(3, 10):
                out.append(("register", f"r{k}", f"{90 + k}.2.2.2", now + 6 + k))
    out.sort(key=lambda e: e[3])
    return out


def rules_and_options(tmp_path: Path):
    """The rules of these tests, and the `--curation` and `--hub-index` options that give them to a worker."""
    rules_file = tmp_path / "curation.yaml"
    rules_file.write_text(RULES_TEXT)
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"scenarios": {SCEN: {
        "path": f"scenarios/{SCEN}.yaml", "version": "0.1", "labels": {"service": "http"},
        "content": base64.b64encode(b"type: leaky\n").decode(), "versions": {"0.1": {"digest": H}}}}}))
    return parse_rules(RULES_TEXT, str(rules_file)), ["--curation", str(rules_file), "--hub-index", str(index)]


def in_process(events: list[tuple], rules) -> tuple[list[tuple[bytes, bytes | None]], float, list[Removed]]:
    """What `synsec central` without a broker publishes for the events, in order (and the end time, and the
    collusion rule's removals)."""
    c = Curator(rules, HUB)
    records, changes = [], []
    for kind, who, what, at in events:
        if kind == "register":
            c.register(who, what, at)
            continue
        changes += c.tick(at) + c.ingest(who, [(v, SCEN, H) for v in what], at)
    end = events[-1][3] + 3 * EPOCH
    changes += c.tick(end)
    records = [blocklist_record(x) for x in changes]
    return records, end, [x for x in changes if isinstance(x, Removed) and x.collusion]


def per_key(records) -> dict[bytes, list]:
    """Each key's records in order, a record repeated right after itself counted once (a replayed batch)."""
    out: dict[bytes, list] = {}
    for key, value in records:
        seq = out.setdefault(key, [])
        if not seq or seq[-1] != value:
            seq.append(value)
    return out


class Setup:
    """One deployment: its own topics (P partitions) and app id, its workers, a bus producing to it."""

    def __init__(self, broker, tmp: Path, name: str, partitions: int, workers: int, common: list[str]):
        text = (TOPOLOGY_DIR / "single.yaml").read_text().replace("  partitions: 1", f"  partitions: {partitions}")
        text = text.replace("name: synsec.", f"name: {name}.synsec.").replace("app_id: synsec", f"app_id: {name}")
        self.path = tmp / f"{name}.yaml"
        self.path.write_text(text)
        self.topo = load_topology(str(self.path))
        assert ensure_topics(BrokerSettings.from_url(broker.url), self.topo).ok
        self.cmd = [*SYNSEC, "curation", "--broker", broker.url, "--topology", str(self.path), *common,
                    "--session-timeout", "6", "--verify-end-offsets", "--loglevel", "info"]
        self.tmp, self.name, self.broker, self.n = tmp, name, broker, 0
        self.procs = [self.start() for _ in range(workers)]

    def start(self) -> Proc:
        self.n += 1
        return Proc([*self.cmd, "--state-dir", str(self.tmp / f"{self.name}-{self.n}")],
                    self.tmp / f"{self.name}-{self.n}.log")

    def blocklist(self) -> list[tuple[bytes, bytes | None]]:
        consumer = KafkaConsumer(self.topo.topics["blocklist"].name, bootstrap_servers=self.broker.bootstrap,
                                 auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
                                 consumer_timeout_ms=800)
        try:
            return [(m.key, m.value) for m in consumer]
        finally:
            consumer.close()


async def _produce(setups: list[Setup], events: list[tuple], rules, clock: list[float]) -> None:
    """Central's side for every setup: cohorts and bursts from one central curator, then its SignalBus."""
    from aiokafka import AIOKafkaProducer

    central = Curator(rules, HUB)
    buses = []
    for s in setups:
        bus = SignalBus(BrokerSettings.from_url(s.broker.url), s.topo, CentralStore(Path(tempfile.mkdtemp())),
                        lambda: clock[0])
        bus.producer = AIOKafkaProducer(bootstrap_servers=s.broker.bootstrap, linger_ms=5)
        await bus.producer.start()
        buses.append(bus)
    try:
        for kind, who, what, at in events:
            clock[0] = at
            if kind == "register":
                changes = central.register(who, what, at)
                for bus in buses:
                    bus.store.add_cohort_changes(changes)
                    await bus.flush()
                continue
            signals = [Signal(who, SCEN, H, "0.1", "Ip", v, "", "", "", 1) for v in what]
            beyond = central.beyond_burst(who, len(signals), at)
            for bus in buses:
                bus.store.add_signals(who, signals, at, central.cohort_of(who), beyond)
                await bus.flush()
    finally:
        for bus in buses:
            await bus.producer.stop()
            bus.store.close()


async def _mark(setups: list[Setup], at: float) -> None:
    from aiokafka import AIOKafkaProducer

    for s in setups:
        bus = SignalBus(BrokerSettings.from_url(s.broker.url), s.topo, None, lambda: at)
        bus.producer = AIOKafkaProducer(bootstrap_servers=s.broker.bootstrap)
        await bus.producer.start()
        try:
            await asyncio.gather(*await bus._mark(at, force=True))
        finally:
            await bus.producer.stop()


def test_the_blocklist_does_not_depend_on_partitions_workers_or_a_kill(broker, tmp_path, unique_name):
    """The same signal stream into 1 and 4 partitions, with 1 and 2 curation workers, and with the only worker
    SIGKILLed midway and replaced: each blocklist topic ends with exactly the in-process blocklist, and each
    address's records are the in-process ones in order (a record repeated by a replay counted once)."""
    rules, common = rules_and_options(tmp_path)
    events = crowd()
    expected, end, colluded = in_process(events, rules)
    listed = final(expected)
    assert 10 <= len(listed) and any(v is None for _, v in expected)     # listings and removals
    ring = {x.value for x in colluded} & set(SYBIL_TARGETS)     # the collusion rule removed what the ring listed,
    assert len(ring) >= 4 and not ring & set(listed)            # on more than one of 4 partitions
    assert len({partition_for(v.encode(), 4) for v in ring}) > 1
    base = unique_name()
    setups = {cfg: Setup(broker, tmp_path, f"{base}-{cfg}", parts, workers, common)
              for cfg, parts, workers in (("p1w1", 1, 1), ("p4w1", 4, 1), ("p4w2", 4, 2), ("p4kill", 4, 1))}
    try:
        half = len(events) // 2
        clock = [T0]
        asyncio.run(_produce(list(setups.values()), events[:half], rules, clock))
        kill = setups["p4kill"]
        deadline = time.monotonic() + 60
        while not kill.blocklist() and time.monotonic() < deadline:
            time.sleep(0.3)
        assert kill.blocklist(), "the worker to kill listed nothing"
        kill.procs[0].stop(__import__("signal").SIGKILL)
        kill.procs.append(kill.start())
        asyncio.run(_produce(list(setups.values()), events[half:], rules, clock))
        asyncio.run(_mark(list(setups.values()), end))
        want = per_key(expected)
        for cfg, s in setups.items():
            deadline = time.monotonic() + 120
            got = s.blocklist()
            while per_key(got) != want and time.monotonic() < deadline:
                time.sleep(1.0)
                got = s.blocklist()
            logs = "\n".join(p.log.read_text(errors="replace")[-3000:] for p in s.procs)
            assert final(got) == listed, f"{cfg}: {sorted(set(final(got)) ^ set(listed))[:10]}\n{logs}"
            assert per_key(got) == want, cfg
        assert "rebuilt from the table" in kill.procs[-1].log.read_text()
    finally:
        for s in setups.values():
            for p in s.procs:
                p.stop()
