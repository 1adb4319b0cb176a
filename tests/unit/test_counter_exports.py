"""Every counter of the one counter set (`synsec.engine.counters.COUNTERS`) is exported: a replay whose input
increments each of them shows each in its `-o json` summary, in `ccscli metrics` (tables and raw text) and in
the API's /metrics over the store it wrote; the counters of `synsec run`'s inputs likewise through a run loop. The list
comes from the registry, so a counter added there without an export fails here."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from connectors.api.metrics import Metrics
from connectors.kafka.broker import free_port
from connectors.api.server import Backend, create_app
from connectors.api.sqlite_view import SqliteDecisionView, StoreWriter
from synsec.assembly.build import EngineOptions, build_engine
from synsec.assembly.metrics import run_samples
from synsec.cli.ccscli import ccscli
from synsec.cli.ccscli.metrics import TABLES, build_tables
from synsec.cli.main import cli
from synsec.engine.counters import COUNTERS
from synsec.metrics import parse
from synsec.runner.acquis import load_acquis
from synsec.runner.inputs import MAX_LINE_BYTES
from synsec.runner.journal import RESTART_S
from synsec.runner.listener import MAX_CONNECTIONS
from synsec.runner.live import LiveRunner
from synsec.runner.sources import Inputs
from synsec.store import Store
from tests.unit.test_profile_counters import PROFILES, UNDATED     # a failing filter and duration_expr; a date no layout reads

REPO = Path(__file__).resolve().parents[2]
RUN = [c for c in COUNTERS if c.scope in ("engine", "input")]
INPUTS = [c for c in COUNTERS if c.scope == "run"]
SSH = "Mar  1 10:0{m}:{s:02d} bastion sshd[{pid}]: Failed password for {user} from {ip} port 5{s:04d} ssh2\n"
# a parser whose every expression raises on the line of user `ctr` (int() of a name), one that whitelists user
# `wl`, and scenarios whose filter, groupby and scope raise
PARSERS = {
    "zz-errors.yaml": """name: test/errors
filter: "evt.Meta.target_user == 'ctr'"
whitelist:
  reason: never
  expression:
    - "int(evt.Meta.target_user) == 1"
stash:
  - {name: ctr, key: "int(evt.Meta.target_user)", value: evt.Meta.source_ip, ttl: 10s, size: 10}
statics:
  - meta: ctr
    expression: "int(evt.Meta.target_user)"
nodes:
  - filter: "int(evt.Meta.target_user) > 0"
    statics:
      - meta: ctr_filtered
        value: "1"
  - grok:
      pattern: '%{WORD:ctr_word}'
      expression: "int(evt.Meta.target_user)"
  - statics:
      - meta: ctr_ok
        value: "1"
""",
    "zz-whitelist.yaml": """name: test/whitelist
filter: "evt.Meta.target_user == 'wl'"
whitelist:
  reason: a test user
  expression:
    - "evt.Meta.target_user == 'wl'"
""",
}
SCENARIOS = """type: trigger
name: test/filter-error
description: raises in its filter
filter: "int(evt.Meta.target_user) > 0"
groupby: evt.Meta.source_ip
---
type: trigger
name: test/groupby-error
description: raises in its groupby
filter: "evt.Meta.target_user == 'ctr'"
groupby: "int(evt.Meta.target_user)"
---
type: trigger
name: test/alert-error
description: raises in its alert
filter: "evt.Meta.target_user == 'ctr'"
groupby: evt.Meta.source_ip
scope:
  type: Range
  expression: "int(evt.Meta.target_user)"
---
type: leaky
name: test/canceled
description: every pour cancels its bucket
filter: "evt.Meta.target_user == 'root'"
groupby: evt.Meta.source_ip
capacity: 5
leakspeed: 10s
cancel_on: "true"
---
type: trigger
name: test/blackholed
description: overflows of a key within a minute of the last are discarded
filter: "evt.Meta.target_user == 'root'"
groupby: evt.Meta.source_ip
blackhole: 1m
---
type: trigger
name: test/filtered
description: its overflow_filter discards every overflow
filter: "evt.Meta.target_user == 'root'"
groupby: evt.Meta.source_ip
overflow_filter: "false"
"""
@pytest.fixture(scope="module")
def content(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("exports") / "content"
    shutil.copytree(REPO / "scenarios", base)
    for name, text in PARSERS.items():
        (base / "parsers" / "s02-enrich" / name).write_text(text)
    (base / "scenarios" / "zz-errors.yaml").write_text(SCENARIOS)
    (base / "profiles.yaml").write_text(PROFILES.replace("on_success: break\n",
                                                         "notifications: [http_default]\non_success: break\n"))
    (base / "notifications").mkdir()
    (base / "notifications" / "http.yaml").write_text("type: http\nname: http_default\nurl: http://127.0.0.1:9/\n")
    (base / "allowlists.yaml").write_text("name: office\nitems:\n  - value: 198.51.100.44\n")
    return base


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    """auth-demo (alerts, an allowlisted source, underflows), 6 fast failures of a private address (a
    whitelisted overflow), the `ctr` and `wl` lines, bad bytes and an undated line."""
    path = tmp_path_factory.mktemp("exports") / "auth.log"
    lines = "".join(SSH.format(m=1, s=s, pid=5000 + s, user="root", ip="10.0.0.5") for s in range(6))
    lines += SSH.format(m=2, s=1, pid=6001, user="ctr", ip="192.0.2.77")
    lines += SSH.format(m=2, s=2, pid=6002, user="wl", ip="192.0.2.78")
    path.write_bytes((REPO / "scenarios" / "samples" / "auth-demo.log").read_bytes() + lines.encode()
                     + b"x" * (MAX_LINE_BYTES + 10) + b"\n" + b"bad \xff utf-8\n" + b"nul \x00 byte\n"
                     + UNDATED.encode())
    return path


def test_the_counter_table_documents_every_counter():
    """The table in synsec/engine/counters.py's docstring names every counter of COUNTERS and its family."""
    import synsec.engine.counters as module

    rows = [line for line in module.__doc__.splitlines() if line.startswith("| ")]
    assert [c.name for c in COUNTERS if not any(re.search(rf"\b{c.name}\b", row) and c.family in row
                                                for row in rows)] == []


def _labelled(samples, spec) -> float:
    """The total of `spec`'s samples among `samples` (its family, its `kind` when it has one)."""
    return sum(s.value for s in samples if s.name == spec.family and (not spec.kind or s.get("kind") == spec.kind))


def _in_tables(tables: dict, spec) -> float:
    """The total `ccscli metrics -o json` shows for `spec`: every column its family fills, in the rows of its
    kind (tables keyed by kind)."""
    total = 0.0
    for title, keys, values in TABLES:
        rows = tables.get(title.lower().replace(" ", "_"), [])
        for header, family in values:
            if family != spec.family:
                continue
            for row in rows:
                if spec.kind and "kind" in keys and row["kind"] != spec.kind:
                    continue
                total += row[header.replace(" ", "_")] or 0
    return total


async def _scrape(state: Path) -> str:
    store = Store(state)
    keys = StoreWriter(store)
    app = create_app(Backend(view=SqliteDecisionView(store), writer=keys, keys=keys, alerts=keys), metrics=Metrics())
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            resp = await client.get("/metrics")
            assert resp.status == 200
            return await resp.text()
    finally:
        store.close()


def test_every_counter_is_in_the_summary_ccscli_metrics_and_the_api_metrics(content, log, tmp_path):
    """One replay increments every engine and reader counter: each is non-zero under its name in `replay -o
    json` stats, in `ccscli metrics -o json` (the column its family fills) and `-o raw`, and in the API's
    /metrics over the same store."""
    state = tmp_path / "state"
    res = CliRunner().invoke(cli, ["replay", str(log), "--type", "syslog", "--config-dir", str(content),
                                   "--state-dir", str(state), "--reference-time", "2026-06-01T00:00:00Z",
                                   "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout)["stats"]
    assert [c.name for c in RUN if not stats.get(c.name)] == []
    assert all(c.name in stats for c in INPUTS)
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), "metrics", "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    tables = json.loads(res.stdout)
    assert [c.name for c in RUN if not _in_tables(tables, c)] == []
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), "metrics", "-o", "raw"], catch_exceptions=False)
    raw = parse(res.stdout)
    assert {c.name: _labelled(raw, c) for c in RUN} == {c.name: stats[c.name] for c in RUN}
    served = parse(asyncio.run(_scrape(state)))
    assert {c.name: _labelled(served, c) for c in RUN} == {c.name: stats[c.name] for c in RUN}


def test_every_input_counter_is_in_the_run_summary_and_its_exports(tmp_path):
    """`synsec run`'s inputs on real files, a real syslog listener and a real journalctl: a file opened,
    truncated and rotated, then resumed after a restart, a transform that returns no line, a TCP connection over
    the listener's limit, a stream that is not syslog and a journalctl follow that ends and is restarted are
    each counted under their name in
    the run's summary, its store samples and ccscli's tables."""
    log = tmp_path / "auth.log"
    log.write_text(SSH.format(m=0, s=1, pid=1, user="root", ip="192.0.2.9"))
    port = free_port()
    acquis = tmp_path / "acquis.yaml"
    acquis.write_text(f"""filenames: ['{log}']
labels: {{type: syslog}}
transform: len(evt.Line.Raw)
---
source: syslog
listen_port: {port}
protocol: tcp
labels: {{type: syslog}}
---
journalctl_filter: ['--directory={tmp_path / "no-journal"}']
labels: {{type: syslog}}
""")
    sources = load_acquis(acquis)
    opts = EngineOptions(reference_year=2026)
    now = [1_000_000.0]

    def runner(saved=None) -> LiveRunner:
        engine, content = build_engine(opts)
        inputs = Inputs(sources, engine.counts, saved=saved or {}, from_start=True)
        inputs.tailer.rescan_s = inputs.tailer.grace_s = 0.0
        live = LiveRunner(engine, content, inputs, lambda out: None, clock=lambda: now[0])
        live.start()
        live.step()
        return live

    def steps(live: LiveRunner, n: int = 3) -> None:
        for _ in range(n):
            now[0] += 1
            live.step()

    first = runner()
    conns = []
    try:
        for i in range(MAX_CONNECTIONS + 1):                        # the last one is over the limit: refused
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            if i % 32 == 31:
                steps(first, 1)                                      # accepted as they come (backlog 64)
        conns[0].sendall(b"not syslog\n")                           # no syslog framing: unreadable
        steps(first, 3)
    finally:
        for conn in conns:
            conn.close()
    log.write_text("")                                               # copytruncate
    steps(first)
    os.rename(log, tmp_path / "auth.log.1")                          # rotation: a new file at the name
    log.write_text(SSH.format(m=0, s=2, pid=2, user="root", ip="192.0.2.9"))
    now[0] += RESTART_S                                              # the ended journalctl follow runs again
    steps(first)
    saved = first.inputs.positions()
    first.inputs.close()
    summary = first.summary()
    second = runner(saved=saved)                                     # a restart resumes at the saved offset
    second.inputs.close()
    total = {c.name: summary[c.name] + second.summary()[c.name] for c in INPUTS}
    assert [name for name, n in total.items() if not n] == [], total
    samples = run_samples(first.engine.counts) + run_samples(second.engine.counts)
    assert {c.name: _labelled(samples, c) for c in INPUTS} == total
    tables = {title.lower().replace(" ", "_"): [dict(zip([h.replace(" ", "_") for h in cols], row)) for row in rows]
              for title, (cols, rows) in build_tables(samples).items()}
    assert {c.name: _in_tables(tables, c) for c in INPUTS} == total
