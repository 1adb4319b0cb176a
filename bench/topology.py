"""Topology benchmark (`make bench-topology`): the 1M-line benchmark log through a real broker, 1 then 2 workers.

    .venv/bin/python bench/topology.py [--lines 1000000] [--rate 5000] [--workers 1,2] [--latency-lines N]
                                       [--keys ip|none|random] [--worker-arg=--OPTION=VALUE …]

The log is the nginx benchmark log of bench/replay.py (gen_log.py, seed 1; generated into bench/out/ when
missing); `--lines N` takes its first N lines. For each worker count, on a fresh local broker (tansu) with the
default 4-partition topology (`synsec topics create` logic, changelog topics included):

  * throughput: every line produced as fast as the producer goes (confluent-kafka); end to end = first line
    produced -> last alert of the run on synsec.alerts (the alerts to wait for are those of an in-process
    replay of the same lines, matched by their deterministic ids; alerts replay does not raise are counted
    as extra, for 5 s after the last expected one). Lines are keyed by their source IP (`--keys ip`), or not
    at all (`none`: the client spreads them, as Filebeat's round_robin) or at random;
  * decision latency: the lines again, on a fresh broker, produced at a steady `--rate` lines/s; for each
    decision, the time from producing the line whose processing raised its alert in the replay (the line
    that overflowed the bucket) to the decision arriving on synsec.decisions; p50/p99;
  * per worker: peak RSS (VmHWM) and CPU seconds (user + system), and CPU µs per line over all workers;
    the CPU seconds of the broker and of this process (producer and consumer), which share the machine.

Prints one JSON line per run and a table; `--json OUT` writes them. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402

from connectors.kafka.broker import LocalBroker  # noqa: E402
from replay import OUT, gen_logs, prefix  # noqa: E402  (bench/ is this script's directory)
from tests.streams.topology_util import CODECS, Worker, create_topics, source_ip  # noqa: E402
from topologies import load_topology  # noqa: E402

TOPICS = {role: t.name for role, t in load_topology("default").topics.items()}
PARTITIONS = 4                 # of every topic in the default topology
JOIN_S = 8.0                   # a worker's start-up and group join on tansu (half the 6 s session timeout)


def benchmark_log(lines: int) -> Path:
    """bench/replay.py's 1M nginx log (seed 1), or its first `lines` lines."""
    log, _truth = gen_logs("nginx", 1_000_000)
    return log if lines >= 1_000_000 else prefix(log, lines)


def reference(log: Path, lines: list[str]) -> dict[str, int]:
    """{alert id: index of the line whose processing raised it} from an in-process replay (cached): the last line
    of the overflowing event's second, since the engine pours a second's lines when the next second comes
    (synsec.engine.ties), as the topology does."""
    cache = OUT / f"{log.stem}.topology-ref2.json"      # (ref.json: before the engine poured ties together)
    if cache.exists() and cache.stat().st_mtime > log.stat().st_mtime:
        return json.loads(cache.read_text())
    from synsec.engine.model import Line
    from synsec.assembly.build import EngineOptions, build_engine

    engine, _ = build_engine(EngineOptions(reference_year=time.gmtime().tm_year))
    ids = {}
    for i, line in enumerate(lines):
        for alert in engine.process(Line(line, "replay", {"type": "nginx"})).alerts:
            ids.setdefault(alert.UUID, i - 1)              # poured with the lines before this one's second
    for alert in engine.advance(engine.last_event_time).alerts:
        ids.setdefault(alert.UUID, len(lines) - 1)
    cache.write_text(json.dumps(ids))
    return ids


def produce(bootstrap: str, lines: list[str], rate: float, sent_at: array, done: dict, linger_ms: int,
            keys: str = "ip") -> None:
    """Every line to synsec.raw as our JSON envelope, keyed by its IP (`keys` "ip"), unkeyed ("none": spread
    over the partitions, as Filebeat's round_robin) or at random ("random"); `rate` lines/s (0: as fast as
    possible)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": linger_ms, "batch.num.messages": 10000,
                         "queue.buffering.max.messages": 1_000_000, "enable.idempotence": False})
    start = time.time()
    step = max(1, int(rate / 200)) if rate else 1000          # pace in 5 ms steps
    for i0 in range(0, len(lines), step):
        if rate:
            delay = start + i0 / rate - time.time()
            if delay > 0:
                time.sleep(delay)
        now = time.time()
        for i in range(i0, min(i0 + step, len(lines))):
            line = lines[i]
            key = source_ip(line) if keys == "ip" else None if keys == "none" else os.urandom(8)
            while True:
                try:
                    producer.produce(TOPICS["raw"], json.dumps({"message": line, "labels": {"type": "nginx"}}),
                                     key)
                    break
                except BufferError:
                    producer.poll(0.05)
            sent_at[i] = now
        producer.poll(0)
    producer.flush(60)
    done["produced_s"] = time.time() - start


def cpu_rss(pid: int) -> tuple[float, float]:
    """(CPU seconds user+system, peak RSS MB) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        hwm = next(int(x.split()[1]) for x in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if x.startswith("VmHWM:"))
        return cpu, hwm / 1024
    except (OSError, StopIteration, IndexError, ValueError):
        return 0.0, 0.0


def run(lines: list[str], workers: int, rate: float, ref: dict[str, int], tmp: Path, linger_ms: int,
        keys: str = "ip", worker_args: tuple[str, ...] = ()) -> dict:
    with LocalBroker(log_dir=tmp / "tansu") as broker:
        create_topics(broker, "default")
        procs = [Worker(broker, "default", tmp, f"w{i}", worker_args) for i in range(workers)]
        try:
            time.sleep(JOIN_S)
            base = [cpu_rss(p.proc.pid)[0] for p in procs]
            broker_base, bench_base = cpu_rss(broker.pid)[0], time.process_time()
            result = measure(broker, lines, rate, ref, linger_ms, keys)
            usage = [cpu_rss(p.proc.pid) for p in procs]
            result["broker_cpu_s"] = round(cpu_rss(broker.pid)[0] - broker_base, 1)
            result["bench_cpu_s"] = round(time.process_time() - bench_base, 1)     # producer + consumer
        finally:
            for p in procs:            # also on an error: never leave a worker behind
                p.stop()
    cpu = [round(c - b, 1) for (c, _), b in zip(usage, base)]
    result.update(workers=workers, rate=rate, keys=keys, worker_cpu_s=cpu, rss_mb=[round(r, 1) for _, r in usage],
                  cpu_us_per_line=round(sum(cpu) / len(lines) * 1e6, 1))
    return result


def measure(broker, lines: list[str], rate: float, ref: dict[str, int], linger_ms: int, keys: str = "ip",
            idle_limit: float = 60.0, settle: float = 5.0) -> dict:
    sent_at = array("d", bytes(8 * len(lines)))
    done: dict = {}
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"bench-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 10})       # tansu holds a fetch for all of it (see the worker's)
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in (TOPICS["alerts"], TOPICS["decisions"])
                     for p in range(PARTITIONS)])        # no group join (tansu makes it wait)
    t0 = time.time()                # wall clock, like the Kafka timestamps of the hops
    thread = threading.Thread(target=produce, args=(broker.bootstrap, lines, rate, sent_at, done, linger_ms, keys),
                              daemon=True)
    thread.start()
    alerts, latencies, last_alert, last = {}, [], t0, time.time()
    hops: dict[str, list[float]] = {"line->alert": [], "alert->decision": [], "decision->read": []}
    complete = None                 # when every replay alert had come: `settle` seconds more, for extra ones
    while (complete is None or time.time() - complete < settle) and time.time() - last < idle_limit:
        if complete is None and len(alerts.keys() & ref.keys()) >= len(ref):
            complete = time.time()
        for msg in consumer.consume(1000, 0.01):
            if msg.error():
                continue
            now = last = time.time()
            stamp = msg.timestamp()[1] / 1000
            if msg.topic() == TOPICS["alerts"]:
                alerts.setdefault(CODECS.decode("alert", msg.value())["uuid"], stamp)
                last_alert = now
            elif msg.value() is not None:
                alert_id = CODECS.decode("decision", msg.value())["alert_id"]
                at = ref.get(alert_id)
                if at is not None and sent_at[at]:
                    latencies.append(now - sent_at[at])
                    if alert_id in alerts:
                        hops["line->alert"].append(alerts[alert_id] - sent_at[at])
                        hops["alert->decision"].append(stamp - alerts[alert_id])
                        hops["decision->read"].append(now - stamp)
    consumer.close()
    thread.join()
    elapsed = last_alert - t0
    lat = sorted(latencies)
    return {"lines": len(lines), "alerts": len(alerts.keys() & ref.keys()), "expected": len(ref),
            "extra_alerts": len(alerts.keys() - ref.keys()),                # alerts replay does not raise
            "produced_s": round(done.get("produced_s", 0), 1), "seconds": round(elapsed, 1),
            "lines_per_s": round(len(lines) / elapsed) if elapsed > 0 else 0,
            "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
            "latency_p99_s": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 3) if lat else None,
            "latency_max_s": round(lat[-1], 3) if lat else None, "latency_n": len(lat),
            "missing": sorted((ref[a], a) for a in ref.keys() - alerts.keys())[:5],   # (line index, alert id)
            "hops_p50_s": {k: round(statistics.median(v), 3) for k, v in hops.items() if v}}


def table(results: list[dict]) -> None:
    print("\n| workers | keys | mode | lines/s end to end | alerts (extra) | decision latency p50 / p99 (max) | CPU µs/line |"
          " CPU s per worker | broker CPU s | peak RSS MB per worker |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        mode = "as fast as possible" if not r["rate"] else f"steady {r['rate']:.0f}/s"
        lat = f"{r['latency_p50_s']} / {r['latency_p99_s']} s ({r['latency_max_s']}; n={r['latency_n']})"
        print(f"| {r['workers']} | {r['keys']} | {mode} | {r['lines_per_s']} | {r['alerts']}/{r['expected']} "
              f"(+{r['extra_alerts']}) | {lat} | "
              f"{r['cpu_us_per_line']} | {r['worker_cpu_s']} | {r['broker_cpu_s']} | {r['rss_mb']} |")
    tput = {r["workers"]: r["lines_per_s"] for r in results if not r["rate"]}
    if 1 in tput and 2 in tput and tput[1]:
        print(f"\nscale-out: 2 workers = {tput[2] / tput[1]:.2f}x one worker")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="first N lines of the 1M benchmark log")
    ap.add_argument("--rate", type=float, default=5000.0, help="steady lines/s of the latency run (0: none)")
    ap.add_argument("--latency-lines", type=int, default=0, help="lines of the latency run (default: --lines)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--linger-ms", type=int, default=50,
                    help="the shipper's batching (librdkafka linger.ms): tansu's fetches slow down with the number "
                         "of batches in a partition (docs/kafka.md)")
    ap.add_argument("--keys", choices=("ip", "none", "random"), default="ip",
                    help="message keys of the raw lines: the source IP, none (spread by the client) or random")
    ap.add_argument("--worker-arg", action="append", default=[],
                    help="an extra `synsec worker` option, e.g. --worker-arg=--marker-interval=0.25 (repeatable)")
    ap.add_argument("--json")
    args = ap.parse_args()
    log = benchmark_log(args.lines)
    with open(log, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    ref = reference(log, lines)
    print(f"{log.name}: {len(lines)} lines, {len(ref)} alerts in replay", flush=True)
    results = []
    for w in (int(x) for x in args.workers.split(",")):
        for rate in (0.0, args.rate) if args.rate else (0.0,):
            part = lines[:args.latency_lines] if rate and args.latency_lines else lines
            part_ref = {k: v for k, v in ref.items() if v < len(part)}
            with tempfile.TemporaryDirectory(prefix="synsec-bench-topology-") as tmp:
                r = run(part, w, rate, part_ref, Path(tmp), args.linger_ms, args.keys, tuple(args.worker_arg))
            results.append(r)
            print(json.dumps(r), flush=True)
    table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
