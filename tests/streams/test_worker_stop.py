"""`synsec worker` stops on SIGTERM: cleanly (status 0) beside a live broker, and within `--stop-timeout` (status 1,
as after a SIGKILL) when its broker has gone — aiokafka would retry its last fetch and commit for ever."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request

from connectors.kafka.broker import LocalBroker, free_port
from tests.streams.topology_util import Worker, create_topics, produce_lines

LINE = '203.0.113.7 - - [02/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8"'


def _read_lines(url: str) -> float:
    """The lines the worker's parse agent has read (synsec_worker_agent_total{agent="parse",counter="in"} or any
    parse counter), from its /metrics."""
    with urllib.request.urlopen(url, timeout=2) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("synsec_worker_agent_total{") and 'agent="parse"' in line)


def _consuming(broker, tmp_path, name: str, *args: str) -> Worker:
    """A worker that has joined its group and read a line (so its fetch loop and commits are running)."""
    port = free_port()
    worker = Worker(broker, "default", tmp_path, name, args=("--metrics-listen", f"127.0.0.1:{port}", *args))
    deadline = time.monotonic() + 60
    produced = False
    while time.monotonic() < deadline:
        assert worker.proc.poll() is None, worker.tail()
        try:
            if _read_lines(f"http://127.0.0.1:{port}/metrics") > 0:
                return worker
        except OSError:
            pass
        if not produced:
            produce_lines(broker, [LINE], "nginx")
            produced = True
        time.sleep(0.3)
    worker.kill()
    raise AssertionError(f"worker {name} read nothing in 60 s:\n{worker.tail()}")


def _sigterm(worker: Worker, wait: float) -> tuple[int, float]:
    started = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    try:
        return worker.proc.wait(wait), time.monotonic() - started
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(f"still running {wait} s after SIGTERM:\n{worker.tail()}") from None


def test_sigterm_stops_cleanly_and_within_the_timeout_when_the_broker_is_gone(tmp_path):
    broker = LocalBroker(log_dir=tmp_path / "tansu").start()
    try:
        create_topics(broker, "default")
        worker = _consuming(broker, tmp_path, "live", "--stop-timeout", "30")
        code, _took = _sigterm(worker, 40)
        assert code == 0, worker.tail()
        assert "did not end within" not in worker.log.read_text()

        worker = _consuming(broker, tmp_path, "orphan", "--stop-timeout", "3")
    finally:
        broker.stop()
    code, took = _sigterm(worker, 30)
    assert code == 1, worker.tail()
    assert 2.5 < took < 15, took
    assert "did not end within 3 s" in worker.log.read_text(), worker.tail()


def test_a_negative_stop_timeout_is_a_usage_error():
    from click.testing import CliRunner

    from synsec.cli.main import cli

    for command in ("worker", "curation"):
        res = CliRunner().invoke(cli, [command, "--stop-timeout", "-1"])
        assert res.exit_code == 2, res.output
        assert "--stop-timeout" in res.output and "-1" in res.output, res.output
