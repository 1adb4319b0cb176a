"""Topology benchmark (`make bench-topology`): the benchmark log through a real broker with 1 then 2 workers.

    .venv/bin/python bench/topology.py [--lines 100000] [--rate 5000] [--workers 1,2]

For each worker count, on a fresh local broker (tansu) and the default 4-partition topology:
  * throughput: every line produced as fast as possible; end to end = first line produced -> last alert of
    the run on synsec.alerts (the number of alerts is known from an in-process replay of the same lines);
  * decision latency: the same lines again, on a fresh broker, produced at a steady `--rate` lines/s; for each
    decision, the time from producing the line that made its bucket overflow (the alert's last event) to the
    decision arriving on synsec.decisions; p50/p99;
  * peak RSS (VmHWM) of each worker process.
Prints the figures; `--json OUT` writes them. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from connectors.kafka.broker import LocalBroker  # noqa: E402
from tests.streams.topology_util import (_IP, CODECS, Worker, create_topics, read_lines,  # noqa: E402
                                         replay_reference)

OUT = REPO / "bench" / "out"


def _log(lines: int) -> Path:
    import subprocess
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"topology_nginx_{lines}.log"
    if not path.exists():
        subprocess.run([sys.executable, str(REPO / "bench" / "gen_log.py"), "--kind", "nginx", "--lines", str(lines),
                        "--seed", "3", "-o", str(path)], check=True)
    return path


def _produce(bootstrap: str, lines: list[str], rate: float, sent_at: dict) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    start = time.monotonic()
    for i, line in enumerate(lines):
        if rate:
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        m = _IP.search(line)
        key = m.group(1) if m else ""
        sent_at[(key, line)] = time.monotonic()
        producer.send("synsec.raw", key=key.encode() or None,
                      value=json.dumps({"message": line, "labels": {"type": "nginx"}}).encode())
    producer.flush()
    producer.close()


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(lines: list[str], workers: int, rate: float, n_alerts: int, by_event: dict, tmp: Path) -> dict:
    with LocalBroker(log_dir=tmp / "tansu") as broker:
        create_topics(broker, "default")
        procs = [Worker(broker, "default", tmp, f"w{i}") for i in range(workers)]
        try:
            return _measure(broker, procs, lines, workers, rate, n_alerts, by_event)
        finally:
            for p in procs:            # also on an error: never leave a worker behind
                p.stop()


def _measure(broker, procs, lines, workers, rate, n_alerts, by_event) -> dict:
    time.sleep(8)                                   # group join (tansu: half the session timeout)
    sent_at: dict = {}
    consumer = KafkaConsumer("synsec.alerts", "synsec.decisions", bootstrap_servers=broker.bootstrap,
                             auto_offset_reset="earliest", group_id=None, consumer_timeout_ms=200)
    t0 = time.monotonic()
    producer = threading.Thread(target=_produce, args=(broker.bootstrap, lines, rate, sent_at))
    producer.start()
    alerts: dict[str, dict] = {}
    latencies: list[float] = []
    last = time.monotonic()
    idle_limit = 60.0
    while len(alerts) < n_alerts and time.monotonic() - last < idle_limit:
        for msg in consumer:
            now = time.monotonic()
            last = now
            if msg.topic == "synsec.alerts":
                rec = CODECS.decode("alert", msg.value)
                alerts[rec["uuid"]] = rec
            elif msg.value is not None:
                d = CODECS.decode("decision", msg.value)
                a = alerts.get(d["alert_id"])
                if a is not None and a["events"]:
                    line = by_event.get((a["source"]["value"], a["events"][-1]["timestamp"]))
                    if line and (a["source"]["value"], line) in sent_at:
                        latencies.append(now - sent_at[(a["source"]["value"], line)])
    elapsed = last - t0
    producer.join()
    rss = [_rss_kb(p.proc.pid) for p in procs]
    consumer.close()
    lat = sorted(latencies)
    return {"workers": workers, "rate": rate, "lines": len(lines), "alerts": len(alerts), "expected": n_alerts,
            "seconds": round(elapsed, 2), "lines_per_s": round(len(lines) / elapsed, 1) if elapsed else 0,
            "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
            "latency_p99_s": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 3) if lat else None,
            "latency_n": len(lat), "rss_mb": [round(r / 1024, 1) for r in rss]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=5000.0, help="steady lines/s of the latency run")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--json")
    args = ap.parse_args()
    import tempfile

    lines = read_lines(_log(args.lines))
    expected, _, _ = replay_reference(lines, "nginx")
    n_alerts = sum(expected.values())
    by_event = {}
    from synsec.engine.model import Line
    from synsec.runner.build import EngineOptions, build_engine
    engine, _ = build_engine(EngineOptions(reference_year=time.gmtime().tm_year))
    for line in lines:
        evt = engine.parse_line(Line(line, "", {"type": "nginx"}))
        if evt is not None:
            by_event.setdefault((evt.Meta.get("source_ip", ""), evt.ts), line)
    results = []
    for w in (int(x) for x in args.workers.split(",")):
        for rate in (0.0, args.rate):
            with tempfile.TemporaryDirectory() as tmp:
                r = run(lines, w, rate, n_alerts, by_event, Path(tmp))
            results.append(r)
            print(json.dumps(r), flush=True)
    tput = {r["workers"]: r["lines_per_s"] for r in results if not r["rate"]}
    print("\n| workers | mode | lines/s end to end | alerts | decision latency p50 / p99 | RSS per worker MB |")
    print("|---|---|---|---|---|---|")
    for r in results:
        mode = "as fast as possible" if not r["rate"] else f"steady {r['rate']:.0f}/s"
        print(f"| {r['workers']} | {mode} | {r['lines_per_s']} | {r['alerts']}/{r['expected']} | "
              f"{r['latency_p50_s']} / {r['latency_p99_s']} s (n={r['latency_n']}) | {r['rss_mb']} |")
    if 1 in tput and 2 in tput and tput[1]:
        print(f"\nscale-out: 2 workers = {tput[2] / tput[1]:.2f}x one worker")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
