"""Same-second lines decide the same whatever their order in the file (synsec.engine.ties): replay, `replay -j 2`
and `synsec run` pour each second's lines by raw line, as the topology does, so a `distinct` and a `cancel_on`
bucket fed several different lines in one second keep the same ones and overflow alike however the file
orders them (issue 11: file order decided before)."""

from __future__ import annotations

import random
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synsec.assembly.build import EngineOptions, build_engine, split_engine
from synsec.content.loader import default_content_dir, load_content
from synsec.engine.buckets import BucketManager
from synsec.engine.model import Line
from synsec.runner.live import LiveRunner
from synsec.runner.replay import replay
from synsec.runner.tail import FileSource, Tailer

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=timezone.utc)
LABELS = {"type": "syslog"}
IPS = ("192.0.2.7", "198.51.100.8", "203.0.113.9")
USERS = ("root", "admin", "guest", "oracle", "root", "pi")

TIE_SCENARIOS = {
    "tie-distinct": "distinct: evt.Meta.target_user\n",
    "tie-cancel": "cancel_on: \"evt.Meta.target_user == 'guest'\"\n",
}


def write_tie_content(root: Path) -> Path:
    """synsec's content plus a `distinct` and a `cancel_on` leaky scenario (capacity 2, per source IP)."""
    shutil.copytree(default_content_dir(), root)
    for name, option in TIE_SCENARIOS.items():
        (root / "scenarios" / f"zz-{name}.yaml").write_text(
            f"type: leaky\nname: test/{name}\ndescription: \"order of same-second lines\"\n"
            "filter: \"evt.Meta.log_type == 'ssh_failed-auth'\"\ngroupby: evt.Meta.source_ip\n"
            f"capacity: 2\nleakspeed: 10s\n{option}labels:\n  remediation: true\n")
    return root


def tie_seconds(seed: int = 3, seconds: int = 8) -> list[list[str]]:
    """Per second, sshd failures of a few IPs with different user names (some repeated, some `guest`)."""
    rng = random.Random(seed)
    out = []
    for s in range(seconds):
        t = T0 + timedelta(seconds=2 * s)
        lines = [f"{t:%b} {t.day:>2} {t:%H:%M:%S} web1 sshd[{100 + k}]: Failed password for {rng.choice(USERS)} "
                 f"from {ip} port {40000 + 7 * s + k} ssh2" for ip in IPS for k in range(rng.randrange(2, 6))]
        out.append(sorted(lines))
    return out


def alert_keys(alerts) -> list[tuple]:
    return sorted((a.Scenario, a.Source.Value, a.StartAt, a.StopAt, a.EventsCount, a.UUID) for a in alerts)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory) -> Path:
    return write_tie_content(tmp_path_factory.mktemp("ties") / "cfg")


@pytest.fixture(scope="module")
def opts(cfg) -> EngineOptions:
    return EngineOptions(config_dir=cfg, reference_year=2026)


@pytest.fixture(scope="module")
def engine_and_content(opts):
    return build_engine(opts)


def _replay(opts, tmp: Path, lines: list[str], workers: int = 1) -> list[tuple]:
    log = tmp / f"auth-{random.random()}.log"
    log.write_text("\n".join(lines) + "\n")
    return alert_keys(replay([str(log)], LABELS, opts, reference_ts=T0.timestamp(), workers=workers).alerts)


def _file_order(content, lines: list[str]) -> list[tuple]:
    """What pouring each line as it comes gives (the former in-process order)."""
    parser, _ = build_engine(EngineOptions(reference_year=2026), content)
    split = split_engine(parser, BucketManager(content.scenarios))
    alerts = []
    for text in lines:
        evt = parser.parse(Line(text, "f", LABELS))
        if evt is not None:
            alerts += split.advance(evt.ts).alerts + split.pour(evt, parser.route(evt), moves_time=False).alerts
    alerts += split.finish().alerts
    for a in alerts:
        parser.profiles.stamp(a)
    return alert_keys(alerts)


def _ours(alerts: list[tuple]) -> list[tuple]:
    return [a for a in alerts if a[0].startswith("test/tie-")]


def test_the_content_is_sensitive_to_the_order_of_same_second_lines(opts):
    """Poured in file order, the same lines ascending and descending within each second give different
    `distinct` and `cancel_on` alerts: the property below can fail."""
    content = load_content(opts.config_dir)
    secs = tie_seconds()
    up = _ours(_file_order(content, [line for s in secs for line in s]))
    down = _ours(_file_order(content, [line for s in secs for line in reversed(s)]))
    assert up and down and up != down
    assert {a[0] for a in set(up) ^ set(down)} == {"test/tie-distinct", "test/tie-cancel"}


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_replay_decides_alike_whatever_the_order_within_a_second(engine_and_content, rnd):
    """Each second's lines shuffled: the engine's in-process run (what replay and run drive) gives the alerts
    of the lines sorted within each second."""
    _engine, content = engine_and_content
    secs = tie_seconds()
    expected = _run(content, [line for s in secs for line in s])
    shuffled = []
    for s in secs:
        s = list(s)
        rnd.shuffle(s)
        shuffled += s
    assert _run(content, shuffled) == expected


def _run(content, lines: list[str]) -> list[tuple]:
    engine, _ = build_engine(EngineOptions(reference_year=2026), content)
    alerts = []
    for text in lines:
        alerts += engine.process(Line(text, "f", LABELS), T0.timestamp()).alerts
    return alert_keys(alerts + engine.finish().alerts)


def test_replay_workers_and_run_agree_on_adversarial_orders(opts, tmp_path):
    """Ascending, descending and shuffled within each second: `synsec replay`, `replay -j 2` and `synsec run`
    (the live runner over the file) give the same alerts, ids included, and the tie scenarios do alert."""
    secs = tie_seconds()
    rng = random.Random(5)
    orders = [[line for s in secs for line in s], [line for s in secs for line in reversed(s)],
              [line for s in secs for line in rng.sample(s, len(s))]]
    expected = _replay(opts, tmp_path, orders[0])
    assert {a[0] for a in expected} >= set(f"test/{n}" for n in TIE_SCENARIOS)
    assert _replay(opts, tmp_path, orders[1]) == expected
    assert _replay(opts, tmp_path, orders[2], workers=2) == expected
    for lines in orders[1:]:
        assert _live(opts, tmp_path, lines) == expected


def _live(opts, tmp: Path, lines: list[str]) -> list[tuple]:
    log = tmp / f"live-{random.random()}.log"
    log.write_text("\n".join(lines) + "\n")
    engine, content = build_engine(opts)
    tailer = Tailer([FileSource((str(log),), LABELS)], engine.counts, from_start=True)
    emitted = []
    runner = LiveRunner(engine, content, tailer, emitted.append)
    runner.start()
    while runner.step():
        pass
    emitted.append(engine.finish())
    return alert_keys(a for out in emitted for a in out.alerts)
