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
from streams.metrics import HELD
from synsec.cli.ccscli import ccscli
from synsec.cli.ccscli.metrics import build_tables
from synsec.engine.buckets import BucketManager
from synsec.engine.model import Line
from synsec.engine.pipeline import Stats
from synsec.metrics import CONTENT_TYPE, Counters, parse
from synsec.assembly.build import EngineOptions, build_engine
from synsec.assembly.metrics import OVERFLOWS_WHITELISTED, POURED, count_outputs, declare_outputs, register_engine
from tests.streams.topology_util import (REPO, Worker, collect, create_topics, decisions_of, produce_lines,
                                         read_lines, replay_reference)
from topologies import load_topology

SAMPLES = REPO / "scenarios" / "samples"


def _expected_tables(lines: list[str], log_type: str, source: str) -> dict:
    """`ccscli metrics -o json` of an engine that processed `lines` in-process (no end-of-input flush)."""
    engine, _ = build_engine(EngineOptions(reference_year=time.gmtime().tm_year))
    counters = declare_outputs(register_engine(Counters(), engine))
    for line in lines:
        out = engine.process(Line(line, source, {"type": log_type}))
        count_outputs(counters, out.alerts, out.decisions)
    tables = build_tables(counters.samples(), set(counters.meta()))
    return {title.lower().replace(" ", "_"): [dict(zip([c.replace(" ", "_") for c in cols], row)) for row in rows]
            for title, (cols, rows) in tables.items()}


def _ccscli_metrics(url: str) -> dict:
    res = CliRunner().invoke(ccscli, ["metrics", "--url", url, "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


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
                                        "lines_unparsed": 3}]
    assert len(expected["buckets"]) == 10 and sum(r["underflows"] for r in expected["buckets"]) > 0
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
    keep what they counted and add what the rebuilt engines count after."""
    settings = WorkerSettings(broker=BrokerSettings.from_url("kafka://127.0.0.1:9"),
                              topology=load_topology("single"), engine=EngineOptions(reference_year=2026))
    app = create_app(settings)
    shell = app.synsec
    parts = shell.buckets_state.partitions

    def pour(partition: int, n: int) -> None:
        if partition not in parts:
            parts[partition] = type("Part", (), {})()
            parts[partition].engine = type("Eng", (), {})()
            parts[partition].engine.buckets = BucketManager(shell.content.scenarios)
            parts[partition].engine.stats = Stats()
            parts[partition].order = ()                                   # nothing held
        parts[partition].engine.buckets.stats["synsec/ssh-bf"]["poured"] += n
        parts[partition].engine.stats.overflows_whitelisted += n

    def poured() -> float:
        assert shell.metrics.value(OVERFLOWS_WHITELISTED) == shell.metrics.value(POURED, scenario="synsec/ssh-bf")
        return shell.metrics.value(POURED, scenario="synsec/ssh-bf")

    pour(0, 3)
    assert poured() == 3
    asyncio.run(app.on_partitions_revoked.send(set()))              # streams.agents clears the partitions
    assert not parts and poured() == 3
    pour(0, 2)
    assert poured() == 5
