"""`bench/crowd.py --topology` (`make bench-crowd-topology`): the crowd's Kafka mode measured end to end.

For each worker count (`--workers`, default 1,2), on a fresh bundled broker (tansu, memory storage) with the
`default` topology (4 signals partitions): a real `synsec central --broker` and that many `synsec curation`
workers; the first `--signals` signals of bench/crowd.py's simulation are pushed **through central's HTTP API**
(v2, batches of up to 500 from 4 client threads; each simulated reporter is one of 50 watchers, so an address
reported by several installations comes from several watchers), so the path is the real one: validation,
SQLite, the Avro records and time markers central produces on `synsec.signals`, the curation topology, the
compacted `synsec.blocklist`. Time is central's wall clock: the simulated days are pressed into the run.
Also, as a baseline, the same bodies into a central without a broker (the in-process curation).

Printed per run: signals/s end to end (first push → every signals partition's offset committed by the curation
group past the last signal: Faust commits every second, so this over-states the time by up to ~1 s); the
curation workers' CPU µs per signal (their CPU over that span, idle loops and heartbeats included) and peak RSS
(VmHWM) each; central's and the broker's CPU. Then the check: central is stopped (no more time markers), the
workers finish, and the blocklist topic must hold exactly what the in-process curation lists when it is given
the same input — central's store (`CentralStore.history`: registrations and signals in the order and at the
times central received them), ticked through the last time marker the topology saw — and each address's
records in the same order. A difference is a bug (exit 1).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from bench.crowd import CentralProcess, _cpu_seconds, signals_body
from connectors.central.bus import TICK_PREFIX
from connectors.central.curation import Curator, hub_scenarios
from connectors.central.rules import load_rules
from connectors.central.store import CentralStore
from connectors.kafka.admin import ensure_topics
from connectors.kafka.broker import LocalBroker
from streams.curation import blocklist_record
from synsec.hub.index import parse_index
from synsec.wire.kafka import BrokerSettings
from tests.procutil import stop, wait_for
from topologies import load_topology

__all__ = ["run_topology", "print_topology"]

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = "default"


def bodies_by_reporter(events, tokens: list[str], batch: int) -> list[tuple[str, bytes, int]]:
    """The events as v2 signal batches: each simulated reporter is the watcher (its index modulo the tokens)
    that pushes its reports, a batch per watcher once it holds `batch` reports (in time order)."""
    index: dict[str, int] = {}
    pending: dict[int, list] = {}
    out, n = [], 0
    for _at, who, ip, scenario, digest in events:
        w = index.setdefault(who, len(index)) % len(tokens)
        pending.setdefault(w, []).append((ip, scenario, digest))
        if len(pending[w]) == batch:
            out.append((tokens[w], signals_body(pending[w], n), batch))
            n += batch
            del pending[w]
    for w, reports in sorted(pending.items()):
        out.append((tokens[w], signals_body(reports, n), len(reports)))
        n += len(reports)
    return out


def rss_mb(pid: int) -> float:
    """Peak resident set (VmHWM) of a live process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Worker:
    """One `synsec curation` child on the broker, logging to a file."""

    def __init__(self, broker: LocalBroker, options: list[str], work: Path, name: str):
        self.log = work / f"{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "synsec.cli.main", "curation", "--broker", broker.url, "--topology", TOPOLOGY,
             *options, "--state-dir", str(work / name), "--session-timeout", "6", "--verify-end-offsets",
             "--loglevel", "info"], stdout=self.log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"synsec curation exited with {self.proc.returncode}: see {self.log}")
        return "Ready" in self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop(self.proc, grace=30)


def _signals_ends(broker: LocalBroker, topic: str, partitions: int) -> dict:
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    try:
        return consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        consumer.close()


def _caught_up(broker: LocalBroker, group: str, ends: dict) -> bool:
    """Whether `group` committed every partition at or past `ends`."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return all((consumer.committed(tp) or 0) >= end for tp, end in ends.items())
    finally:
        consumer.close()


def _read(broker: LocalBroker, topic: str) -> list:
    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=1500)
    try:
        return [(m.key, m.value) for m in consumer]
    finally:
        consumer.close()


def in_process(state: Path, options: list[str], end: float) -> list[tuple[bytes, bytes | None]]:
    """The blocklist records the in-process curation (`synsec central` without a broker) makes from what central
    stored, in the order and at the times central received it, ticked through `end`."""
    rules = load_rules(options[options.index("--curation") + 1])
    scenarios = hub_scenarios(parse_index(Path(options[options.index("--hub-index") + 1]).read_bytes()))
    cur = Curator(rules, scenarios)
    store = CentralStore(state)
    changes = []
    try:
        for kind, who, what, at in store.history():
            if kind == "register":
                cur.register(who, what, at)
            else:
                changes += cur.tick(at) + cur.ingest(who, what, at)
    finally:
        store.close()
    changes += cur.tick(end)
    return [blocklist_record(c) for c in changes]


def final(records) -> dict:
    """What a compacted topic keeps of the records: each key's last value, tombstones dropped."""
    out: dict = {}
    for key, value in records:
        out[key] = value
    return {k: v for k, v in out.items() if v is not None}


def per_key(records) -> dict:
    """Each key's records in order, a record repeated right after itself counted once (a replayed batch)."""
    out: dict = {}
    for key, value in records:
        seq = out.setdefault(key, [])
        if not seq or seq[-1] != value:
            seq.append(value)
    return out


def baseline(events, work: Path, watchers: int, batch: int, threads: int) -> dict:
    """The same bodies into a central without a broker: its curation runs in the request."""
    central = CentralProcess(work, "central-inproc")
    try:
        central.wait_health(timeout=30)
        bodies = bodies_by_reporter(events, central.register(watchers), batch)
        cpu, t0 = central.cpu(), time.monotonic()
        errors = central.push(bodies, threads)
        wall, cpu = time.monotonic() - t0, central.cpu() - cpu
        return {"workers": 0, "signals": len(events), "errors": len(errors), "wall_s": round(wall, 1),
                "signals_per_s": round(len(events) / wall), "central_cpu_us_per_signal": round(cpu / len(events) * 1e6, 1)}
    finally:
        central.stop()


def topology_run(events, workers: int, work: Path, watchers: int, batch: int, threads: int,
                 timeout: float) -> dict:
    """One run: broker, central --broker, `workers` curation workers; the figures and the check."""
    topo = load_topology(TOPOLOGY)
    signals = topo.topics["signals"]
    with LocalBroker(log_dir=work / f"tansu-w{workers}") as broker:
        assert ensure_topics(BrokerSettings.from_url(broker.url), topo).ok
        central = CentralProcess(work, f"central-w{workers}", ("--broker", broker.url, "--topology", TOPOLOGY))
        procs = [Worker(broker, central.options(), work, f"curation-w{workers}-{i}") for i in range(workers)]
        try:
            central.wait_health(lambda h: h.get("broker") == "up", timeout=60)
            bodies = bodies_by_reporter(events, central.register(watchers), batch)
            wait_for(lambda: all(p.ready() for p in procs), 120, "the curation workers to join")
            time.sleep(2.0)
            base = [_cpu_seconds(p.proc.pid) for p in procs]
            central_base, broker_base = central.cpu(), _cpu_seconds(broker.pid)
            t0 = time.monotonic()
            errors = central.push(bodies, threads)
            pushed = time.monotonic() - t0
            ends = _signals_ends(broker, signals.name, signals.partitions)
            wait_for(lambda: _caught_up(broker, topo.curation_app_id, ends), timeout, "the curation to catch up")
            elapsed = time.monotonic() - t0
            cpu = [_cpu_seconds(p.proc.pid) - b for p, b in zip(procs, base)]
            rss = [rss_mb(p.proc.pid) for p in procs]
            central_cpu, broker_cpu = central.cpu() - central_base, _cpu_seconds(broker.pid) - broker_base
            central.stop()                      # no more time markers: the topology's time stops
            ends = _signals_ends(broker, signals.name, signals.partitions)
            wait_for(lambda: _caught_up(broker, topo.curation_app_id, ends), timeout, "the curation's last batches")
            time.sleep(2.0)                     # its last blocklist records
            got = _read(broker, topo.topics["blocklist"].name)
            marks = [float(k[len(TICK_PREFIX):]) for k, v in _read(broker, signals.name)
                     if v is None and k and k.startswith(TICK_PREFIX)]
        finally:
            central.stop()
            for p in procs:
                p.stop()
    want = in_process(central.state, central.options(), max(marks))
    same_final, same_order = final(got) == final(want), per_key(got) == per_key(want)
    diff = sorted(set(final(got).items()) ^ set(final(want).items()))[:5]
    return {"workers": workers, "signals": len(events), "errors": len(errors), "push_s": round(pushed, 1),
            "wall_s": round(elapsed, 1), "signals_per_s": round(len(events) / elapsed),
            "curation_cpu_s": [round(c, 1) for c in cpu],
            "curation_cpu_us_per_signal": round(sum(cpu) / len(events) * 1e6, 1), "curation_rss_mb": [round(r) for r in rss],
            "central_cpu_us_per_signal": round(central_cpu / len(events) * 1e6, 1),
            "broker_cpu_s": round(broker_cpu, 1), "listed": len(final(got)), "listed_in_process": len(final(want)),
            "records": len(got), "records_in_process": len(want), "same_blocklist": same_final,
            "same_order_per_address": same_order, "differences": [(k.decode(), v and v.decode()) for k, v in diff]}


def run_topology(world, n: int, workers: list[int], watchers: int = 50, batch: int = 500, threads: int = 4,
                 timeout: float = 300.0) -> list[dict]:
    """The baseline, then one run per worker count, on the first `n` signals of the world."""
    import tempfile

    events = world.events[:n]
    work = Path(tempfile.mkdtemp(prefix="bench-crowd-topology-"))
    out = [baseline(events, work, watchers, batch, threads)]
    print(json.dumps(out[-1]), file=sys.stderr)
    for w in workers:
        out.append(topology_run(events, w, work, watchers, batch, threads, timeout))
        print(json.dumps(out[-1]), file=sys.stderr)
    return out


def print_topology(results: list[dict]) -> bool:
    """The figures as a table; whether every run's blocklist was the in-process one."""
    print("| curation workers | signals | signals/s end to end | curation CPU µs/signal | peak RSS MB per worker |"
          " central CPU µs/signal | listed (in-process) | same blocklist, same order per address |")
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for r in results:
        if not r["workers"]:
            print(f"| none (in-process curation) | {r['signals']:,} | {r['signals_per_s']:,} | – | – | "
                  f"{r['central_cpu_us_per_signal']} | | |")
            continue
        ok &= r["same_blocklist"] and r["same_order_per_address"] and not r["errors"]
        print(f"| {r['workers']} | {r['signals']:,} | {r['signals_per_s']:,} | {r['curation_cpu_us_per_signal']} | "
              f"{', '.join(map(str, r['curation_rss_mb']))} | {r['central_cpu_us_per_signal']} | "
              f"{r['listed']} ({r['listed_in_process']}) | {r['same_blocklist']}, {r['same_order_per_address']} |")
        if r["differences"]:
            print(f"  differences (topic vs in-process): {r['differences']}")
    return ok
