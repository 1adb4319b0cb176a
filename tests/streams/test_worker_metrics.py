"""The worker's Prometheus endpoint (`synsec worker --metrics-listen`): what `ccscli metrics` reads from it
equals what the in-process engine counts on the same lines, and its bucket counters survive a rebalance."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from connectors.kafka.broker import LocalBroker, free_port
from synsec.wire.kafka import BrokerSettings
from streams.app import WorkerSettings, create_app
from streams.metrics import HELD, WORKER_SCOPES
from synsec.cli.ccscli import ccscli
from synsec.cli.ccscli.metrics import build_tables
from synsec.engine.buckets import BucketManager
from synsec.engine.model import Line
from synsec.metrics import CONTENT_TYPE, Counters, parse
from synsec.assembly.build import EngineOptions, build_engine, split_engine
from synsec.assembly.metrics import OVERFLOWS_WHITELISTED, POURED, register_engine
from tests.streams.topology_util import (REPO, Worker, collect, create_topics, decisions_of, produce_lines,
                                         read_lines, replay_reference)
from topologies import load_topology

SAMPLES = REPO / "scenarios" / "samples"


def _expected_tables(lines: list[str], log_type: str, source: str) -> dict:
    """`ccscli metrics -o json` of an engine that processed `lines` in-process (no end-of-input flush; the last
    second's lines poured: synsec.engine.ties)."""
    engine, _ = build_engine(EngineOptions(reference_year=time.gmtime().tm_year))
    counters = register_engine(Counters(), engine, scopes=WORKER_SCOPES)
    for line in lines:
        engine.counts.inc("bytes", source, n=len(json.dumps({"message": line, "labels": {"type": log_type}}).encode()))
        engine.process(Line(line, source, {"type": log_type}))
    engine.advance(engine.last_event_time)
    tables = build_tables(counters.samples(), set(counters.meta()))
    return {title.lower().replace(" ", "_"): [dict(zip([c.replace(" ", "_") for c in cols], row)) for row in rows]
            for title, (cols, rows) in tables.items()}


def _ccscli_metrics(url: str) -> dict:
    """`ccscli metrics --url URL -o json` without the worker's own tables (its agents' counts, records held)."""
    res = CliRunner().invoke(ccscli, ["metrics", "--url", url, "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return {k: v for k, v in json.loads(res.stdout).items() if k not in ("worker_agents", "worker")}


def _diff(got: dict, want: dict) -> str:
    rows = [f"{title}: got {row}" for title, rows in got.items() for row in rows if row not in want.get(title, ())]
    rows += [f"{title}: want {row}" for title, rows in want.items() for row in rows if row not in got.get(title, ())]
    return "\n".join(rows)


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, "", ""


@pytest.mark.integration
@pytest.mark.slow
def test_ccscli_metrics_of_a_worker_equal_the_engine_counts(tmp_path, monkeypatch):
    """nginx lines (and 3 that no parser takes) through a 4-partition worker: `ccscli metrics --url
    <worker>/metrics -o json` shows the lines read/parsed/unparsed per source, the pours, overflows, underflows
    and live buckets per scenario (summed over the buckets-in partitions), alerts per scenario and decisions
    per origin that the in-process engine counts on the same lines; nothing held or late once the input stops."""
    lines = read_lines(SAMPLES / "nginx-demo.log") + ["not a log line"] * 3
    expected = _expected_tables(lines, "nginx", "synsec.raw")        # plain envelope: the source is the topic
    _, decisions, _ = replay_reference(lines, "nginx")
    assert expected["acquisition"] == [{"source": "synsec.raw", "lines_read": 181, "lines_parsed": 178,
                                        "lines_unparsed": 3, "bytes_read": expected["acquisition"][0]["bytes_read"]}]
    assert expected["acquisition"][0]["bytes_read"] > 181 * 40
    assert len(expected["buckets"]) == 11 and sum(r["underflows"] for r in expected["buckets"]) > 0
    assert sum(r["made"] for r in expected["decisions"]) == len(decisions) == 10
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    with LocalBroker(log_dir=tmp_path / "tansu") as broker:
        create_topics(broker, "default")
        monkeypatch.setenv("SYNSEC_METRICS_LISTEN", f"127.0.0.1:{port}")   # what --metrics-listen sets
        worker = Worker(broker, "default", tmp_path)
        try:
            produce_lines(broker, lines, "nginx")
            got = collect(broker, ["synsec.decisions"], lambda g: len(g["synsec.decisions"]) >= len(decisions),
                          timeout=60, quiet=0)
            assert decisions_of(got["synsec.decisions"]) == decisions, worker.tail()
            deadline = time.monotonic() + 20           # timers fire when idle markers move the watermark
            while (tables := _ccscli_metrics(url)) != expected and time.monotonic() < deadline:
                time.sleep(0.5)
            status, content_type, text = _get(url)
            health = _get(f"http://127.0.0.1:{port}/health")
            table_page = _get(f"http://127.0.0.1:{port}/table/")
        finally:
            worker.stop()
    assert tables == expected, f"{_diff(tables, expected)}\n{worker.tail()}"
    assert status == 200 and content_type == CONTENT_TYPE
    agents = {(s.get("agent"), s.get("counter")): s.value for s in parse(text) if s.name == "synsec_worker_agent_total"}
    assert agents[("parse", "lines")] == len(lines) and agents[("parse", "unparsed")] == 3
    assert ("buckets", "late") not in agents and ("buckets", "forced") not in agents   # in-order sources
    assert [s.value for s in parse(text) if s.name == HELD] == [0]                      # all idle: all poured
    assert health[0] == 200 and json.loads(health[2]) == {"status": "up"}
    assert table_page[0] == 404                                      # Faust's table pages are off


def test_bucket_counts_survive_a_rebalance():
    """The buckets agent drops its partitions' engines on a rebalance: the pour and whitelisted-overflow counters
    keep what they counted (every partition's engine counts into the worker's one set) and add what the rebuilt
    engines count after."""
    settings = WorkerSettings(broker=BrokerSettings.from_url("kafka://127.0.0.1:9"),
                              topology=load_topology("single"), engine=EngineOptions(reference_year=2026))
    app = create_app(settings)
    shell = app.synsec
    parts = shell.buckets_state.partitions
    line = "Mar  1 10:00:{s:02d} bastion sshd[1]: Failed password for root from 10.0.0.{ip} port 22 ssh2"

    def pour(partition: int, ip: int) -> None:
        """6 fast failures of a private address: 6 pours into ssh-bf, an overflow the postoverflows whitelist."""
        if partition not in parts:
            parts[partition] = type("Part", (), {})()
            parts[partition].engine = split_engine(shell.engine, BucketManager(shell.content.scenarios))
            parts[partition].order = ()                                   # nothing held
        for s in range(6):
            evt = shell.engine.parse(Line(line.format(s=s, ip=ip), "t", {"type": "syslog"}))
            parts[partition].engine.pour(evt, [("synsec/ssh-bf", evt.Meta["source_ip"])], moves_time=False)

    def counted() -> tuple[float, float]:
        return shell.metrics.value(POURED, scenario="synsec/ssh-bf"), shell.metrics.value(OVERFLOWS_WHITELISTED)

    pour(0, 1)
    assert counted() == (6, 1)
    asyncio.run(app.on_partitions_revoked.send(set()))              # streams.agents clears the partitions
    assert not parts and counted() == (6, 1)
    pour(0, 2)
    assert counted() == (12, 2)
