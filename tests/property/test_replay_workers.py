"""`synsec replay -j N` decides as `-j 1` on content whose pour-time expressions read every event field.

Regression for "replay -j drops event fields": worker processes sent a hand-made tuple (ts, Meta, Parsed,
Enriched, src) to the pouring process, so `distinct: evt.Line.Raw` found one value and 1,271 alerts at -j 1
became 0 at -j 2. Events now cross processes as the topology's Avro `event` value.
"""

from __future__ import annotations

import os
import random
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from synsec.assembly.build import EngineOptions, build_engine
from synsec.content.loader import default_content_dir
from synsec.runner import parallel
from synsec.runner.replay import replay

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=timezone.utc)
SEEDS = range(12) if os.environ.get("SYNSEC_FUZZ_LONG") == "1" else range(2)
LABELS = {"type": "syslog", "env": "test"}

UNMARSHAL = """\
name: test/unmarshal
description: "fills evt.Unmarshaled.doc from the parsed sshd fields"
filter: "evt.Meta.log_type == 'ssh_failed-auth'"
statics:
  - meta: unmarshaled
    expression: "UnmarshalJSON(ToJsonString({'port': evt.Parsed.sshd_port}), evt.Unmarshaled, 'doc') ?? 'yes'"
"""

# name -> the bucket option that reads the field when the event is poured (in the pouring process)
FIELD_READERS = {
    "line-raw": "distinct: evt.Line.Raw",
    "line-labels": "cancel_on: evt.Line.Labels.env != 'test'",
    "line-src": "cancel_on: evt.Line.Src == ''",
    "line-module": "cancel_on: evt.Line.Module != 'file'",
    "unmarshaled": "distinct: evt.Unmarshaled.doc.port",
    "str-time": "distinct: evt.StrTime",
    "marshaled-time": "distinct: evt.MarshaledTime",
    "meta": "distinct: evt.Meta.target_user",
    "parsed": "distinct: evt.Parsed.sshd_port",
    "enriched": "distinct: evt.Enriched.MarshaledTime",
    "stage": "cancel_on: evt.Stage != 's02-enrich'",
    "time": "distinct: string(evt.Time)",
}


def _scenario(name: str, reader: str) -> str:
    return (f"type: leaky\nname: test/{name}\ndescription: \"{reader}\"\n"
            "filter: \"evt.Meta.log_type == 'ssh_failed-auth'\"\ngroupby: evt.Meta.source_ip\n"
            f"{reader}\ncapacity: 3\nleakspeed: 10s\n")


@pytest.fixture(scope="module")
def content_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("content") / "cfg"
    shutil.copytree(default_content_dir(), root)
    (root / "parsers" / "s02-enrich" / "zz-unmarshal.yaml").write_text(UNMARSHAL)
    for name, reader in FIELD_READERS.items():
        (root / "scenarios" / f"zz-{name}.yaml").write_text(_scenario(name, reader))
    return root


def _log(path, seed: int, n: int = 1500) -> None:
    """sshd lines: benign logins, and brute-force episodes (distinct users, ports, seconds) from a few IPs."""
    rng = random.Random(seed)
    t, lines = T0, []
    while len(lines) < n:
        t += timedelta(seconds=rng.randint(0, 3))
        pid = rng.randint(100, 999)
        if rng.random() < 0.05:
            ip = f"203.0.113.{rng.randint(1, 6)}"
            for _ in range(rng.randint(3, 8)):
                t += timedelta(seconds=rng.randint(0, 2))
                user = rng.choice(["root", "admin", "oracle", "test", "ubuntu", f"u{rng.randint(0, 99)}"])
                lines.append(f"{t:%b} {t.day:>2} {t:%H:%M:%S} web1 sshd[{pid}]: Failed password for {user} "
                             f"from {ip} port {rng.randint(1024, 65535)} ssh2")
        else:
            lines.append(f"{t:%b} {t.day:>2} {t:%H:%M:%S} web1 sshd[{pid}]: Accepted publickey for alice from "
                         f"192.0.2.{rng.randint(1, 200)} port {rng.randint(1024, 65535)} ssh2")
    path.write_text("\n".join(lines) + "\n")


def _alerts(result) -> list[tuple]:
    return [(a.Scenario, a.Source.Value, a.EventsCount, a.StartAt, a.StopAt,
             tuple(tuple(sorted(e["meta"].items())) for e in a.Events)) for a in result.alerts]


@pytest.mark.parametrize("seed", SEEDS)
def test_replay_workers_keep_every_event_field(content_dir, tmp_path, monkeypatch, seed):
    """-j 1, -j 2 and -j 4 give the same alerts when distinct/cancel_on read Line, Unmarshaled, StrTime, Meta..."""
    monkeypatch.setattr(parallel, "CHUNK", 97)          # many chunks, so the worker processes interleave
    log = tmp_path / "auth.log"
    _log(log, seed)
    opts = EngineOptions(config_dir=content_dir, reference_year=2026)
    runs = {j: replay([str(log)], LABELS, opts, reference_ts=T0.timestamp(), workers=j,
                      engine_and_content=build_engine(opts)) for j in (1, 2, 4)}
    one = _alerts(runs[1])
    fired = {a[0] for a in one}
    assert {f"test/{name}" for name in FIELD_READERS} <= fired        # every field reader decides something
    assert _alerts(runs[2]) == one
    assert _alerts(runs[4]) == one
    for j in (2, 4):
        assert runs[j].stats["buckets"] == runs[1].stats["buckets"]
    print(f"seed {seed}: {len(one)} alerts, {runs[1].stats['lines']} lines, equal at -j 1/2/4")
