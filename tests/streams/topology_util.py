"""Helpers for the topology tests: a broker per test, worker processes, producing lines, reading results."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors.kafka.admin import ensure_topics
from synsec.wire.kafka import BrokerSettings
from synsec.wire.codecs import Codecs
from synsec.wire.registry import LocalRegistry
from synsec.engine.model import Line
from synsec.assembly.build import EngineOptions, build_engine
from tests.procutil import stop
from topologies import load_topology

REPO = Path(__file__).resolve().parents[2]
SYNSEC = [sys.executable, "-m", "synsec.cli.main"]
CODECS = Codecs(LocalRegistry())
# tansu needs it for table recovery (see synsec worker --help)
VERIFY_END_OFFSETS = os.environ.get("SYNSEC_VERIFY_END_OFFSETS", "1") == "1"
_IPV4 = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3})")
_IPV6 = re.compile(r"(?<![\w:])([0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7})(?![\w:])")
_SYSLOG_TIME = re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d ")     # else 10:05:00 passes for an IPv6 address


def source_ip(line: str) -> str | None:
    """The line's first IPv4 address, else its first IPv6 one (what a shipper keying by client would use)."""
    m = _IPV4.search(line) or _IPV6.search(_SYSLOG_TIME.sub("", line))
    return m.group(1) if m else None


def create_topics(broker, topology: str) -> None:
    """The topology's topics, its tables' changelogs included (so a test may read them before a worker runs)."""
    report = ensure_topics(BrokerSettings.from_url(broker.url), load_topology(topology))
    assert report.ok, report


class Worker:
    """`synsec worker` in a subprocess, stopped (or SIGKILLed) by its PID."""

    def __init__(self, broker, topology: str, workdir: Path, name: str = "w", args: tuple[str, ...] = ()):
        self.log = workdir / f"{name}.log"
        state = workdir / f"{name}-state"
        self.proc = subprocess.Popen(
            [*SYNSEC, "worker", "--broker", broker.url, "--topology", topology, "--session-timeout", "6",
             "--state-dir", str(state), "--marker-interval", "1", "--idle-advance", "2",
             *(["--verify-end-offsets"] if VERIFY_END_OFFSETS else []), *args],
            cwd=REPO, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        stop(self.proc, grace=20)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def produce_lines(broker, lines: list[str], log_type: str, keyed: bool = True, topic: str = "synsec.raw") -> None:
    """Each line as our JSON envelope; keyed by the source IP (as a shipper keying by host would)."""
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    for line in lines:
        ip = source_ip(line)
        key = ip.encode() if (keyed and ip) else None
        producer.send(topic, key=key, value=json.dumps({"message": line, "labels": {"type": log_type}}).encode())
    producer.flush()
    producer.close()


def produce_typed(broker, lines: list[tuple[str, str]], keys: str, seed: int = 0) -> None:
    """(line, type) pairs as our JSON envelope, keyed by `keys`: "none" (no key: the client spreads them, as
    Filebeat's round_robin), "ip" (the source IP) or "random" (a random key per line)."""
    import random

    rng = random.Random(seed)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    for line, log_type in lines:
        ip = source_ip(line)
        key = {"none": None, "ip": ip.encode() if ip else None, "random": b"%016x" % rng.getrandbits(64)}[keys]
        producer.send("synsec.raw", key=key,
                      value=json.dumps({"message": line, "labels": {"type": log_type}}).encode())
    producer.flush()
    producer.close()


def produce_raw(broker, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for v in values:
        producer.send(topic, value=v)
    producer.flush()
    producer.close()


def collect(broker, topics: list[str], until, timeout: float = 90.0, quiet: float = 3.0) -> dict[str, list]:
    """Messages of `topics` from the start until `until(got)` holds (then `quiet` more seconds) or timeout."""
    consumer = KafkaConsumer(*topics, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=500, enable_auto_commit=False, group_id=None)
    got: dict[str, list] = {t: [] for t in topics}
    deadline = time.monotonic() + timeout
    done_at = None
    try:
        while time.monotonic() < deadline:
            for msg in consumer:
                got[msg.topic].append(msg)
            if done_at is None and until(got):
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at >= quiet:
                break
    finally:
        consumer.close()
    return got


def committed(broker, group: str, topic: str, partition: int = 0) -> int | None:
    """The offset `group` last committed on a topic partition (None: never)."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return consumer.committed(TopicPartition(topic, partition))
    finally:
        consumer.close()


def alerts_of(messages) -> list[tuple[str, str, int]]:
    out = []
    for m in messages:
        rec = CODECS.decode("alert", m.value)
        out.append((rec["scenario"], rec["source"]["value"], rec["events_count"]))
    return out


def decisions_of(messages) -> set[tuple]:
    out = set()
    for m in messages:
        if m.value is None:
            continue
        rec = CODECS.decode("decision", m.value)
        out.add((rec["scope"], rec["value"], rec["type"], rec["scenario"]))
    return out


def replay_reference(lines: list[str], log_type: str):
    """What the in-process runner decides on the same lines (no end-of-input flush: a stream has no end, but
    the last second's lines are poured). `first_alert_at`: the index of the line whose processing gave an alert
    first (a line's same-second ties are poured when the next second comes: synsec.engine.ties)."""
    engine, _ = build_engine(EngineOptions(reference_year=time.gmtime().tm_year))
    outs = [engine.process(Line(line, "replay", {"type": log_type})) for line in lines]
    outs.append(engine.advance(engine.last_event_time))
    alerts, decisions, first_alert_at = [], set(), {}
    for i, out in enumerate(outs):
        for a in out.alerts:
            alerts.append((a.Scenario, a.Source.Value, a.EventsCount))
            first_alert_at.setdefault((a.Scenario, a.Source.Value), i)
        decisions |= {(d.scope, d.value, d.type, d.scenario) for d in out.decisions}
    return Counter(alerts), decisions, first_alert_at


def replay_typed(lines: list[tuple[str, str]], opts: EngineOptions | None = None):
    """What the in-process runner decides on (line, type) pairs: Counter of alerts (scenario, source, start,
    stop, events_count, id) and the set of decisions (scope, value, type, scenario, alert id)."""
    engine, _ = build_engine(opts or EngineOptions(reference_year=time.gmtime().tm_year))
    alerts, decisions = Counter(), set()
    outs = [engine.process(Line(line, "replay", {"type": log_type})) for line, log_type in lines]
    outs.append(engine.advance(engine.last_event_time))         # the last second's lines (not the timers)
    for out in outs:
        alerts.update((a.Scenario, a.Source.Value, a.StartAt, a.StopAt, a.EventsCount, a.UUID) for a in out.alerts)
        decisions |= {(d.scope, d.value, d.type, d.scenario, d.alert_id) for d in out.decisions}
    return alerts, decisions


def full_alerts_of(messages) -> list[tuple]:
    """(scenario, source, start, stop, events_count, id) of each alert message."""
    out = []
    for m in messages:
        rec = CODECS.decode("alert", m.value)
        out.append((rec["scenario"], rec["source"]["value"], rec["start_at"], rec["stop_at"], rec["events_count"],
                    rec["uuid"]))
    return out


def full_decisions_of(messages) -> set[tuple]:
    """(scope, value, type, scenario, alert id) of each decision message (tombstones left out)."""
    out = set()
    for m in messages:
        if m.value is not None:
            rec = CODECS.decode("decision", m.value)
            out.add((rec["scope"], rec["value"], rec["type"], rec["scenario"], rec["alert_id"]))
    return out


def replay_alert_ids(lines: list[str], log_type: str) -> set[str]:
    """The deterministic ids of replay's alerts (the same alert has the same id in every runner)."""
    engine, _ = build_engine(EngineOptions(reference_year=time.gmtime().tm_year))
    outs = [engine.process(Line(line, "replay", {"type": log_type})) for line in lines]
    outs.append(engine.advance(engine.last_event_time))         # the last second's lines (not the timers)
    return {a.UUID for out in outs for a in out.alerts}


def read_lines(path: Path) -> list[str]:
    return [line.rstrip("\n") for line in path.open(encoding="utf-8") if line.strip()]


def order_report(broker, missing=(), group: str = "synsec", partitions: int = 4) -> str:
    """After a failure, what tells a lost record from a stalled partition (streams.ordering): per
    synsec.buckets-in partition, its last offset and the group's committed one, the ledger its changelog
    last holds (newest offset taken, release threshold, newest time, each source's marker, the idle sources,
    the newest origin taken per source) and the records held there (count, oldest and newest time); the
    committed offsets of synsec.raw; and for each alert in `missing` ((scenario, source, start, stop, ...)),
    its bucket's buckets-in partition and the records of its time found there, with their origins (none: its
    lines were never routed; one copy below the ledger's offset and origin: taken, so poured or held)."""
    from streams.bucketstore import Ledger, held_prefix, marks_key, partition_for, table_key
    from synsec.wire.records import bucket_in_origin, record_to_bucket_in

    got = collect(broker, ["synsec-buckets-changelog", "synsec.buckets-in"], lambda g: all(g.values()), timeout=30,
                  quiet=2)
    last_in = {}
    for m in got["synsec.buckets-in"]:
        last_in[m.partition] = max(last_in.get(m.partition, -1), m.offset)
    table = {}
    for m in got["synsec-buckets-changelog"]:
        table[m.key] = m.value
    lines = []
    for p in range(partitions):
        raw = table.get(marks_key(p))
        ledger = Ledger.from_json(raw[8:]) if raw else None
        held = [CODECS.decode("bucket_in", v[8:]) for k, v in table.items()
                if k.startswith(held_prefix(p)) and v is not None]
        times = sorted(record_to_bucket_in(rec)[2].ts for rec in held)
        order = ledger.order if ledger else {}
        lines.append(f"buckets-in {p}: last offset {last_in.get(p)}, committed "
                     f"{committed(broker, group, 'synsec.buckets-in', p)}; ledger offset "
                     f"{ledger.offset if ledger else None}, threshold {order.get('threshold')}, newest "
                     f"{order.get('newest')}, markers {order.get('watermarks')}, idle {order.get('idle')}, "
                     f"origins taken {ledger.marks if ledger else None}; held "
                     f"{len(times)}" + (f" ({times[0]} .. {times[-1]})" if times else ""))
    lines.append("synsec.raw committed: " + str([committed(broker, group, "synsec.raw", p) for p in range(partitions)]))
    for a in missing:
        key = table_key(a[0], a[1])
        routed = []                 # where the bucket's records were read: did its lines reach buckets-in at all?
        for m in (m for m in got["synsec.buckets-in"] if m.key == key):
            rec = CODECS.decode("bucket_in", m.value)
            ts = record_to_bucket_in(rec)[2].ts
            if a[2] <= ts <= a[3]:
                routed.append((m.offset, ts, bucket_in_origin(rec)))
        lines.append(f"missing {a}: buckets-in {partition_for(key, partitions)}, its records there (offset, time, "
                     f"origin): {routed}")
    return "\n".join(lines)
