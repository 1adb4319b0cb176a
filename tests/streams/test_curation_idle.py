"""Issue 12 on the real bundled broker (tansu): a curation worker waiting at the minute barrier for a partition of
another worker goes on when that one catches up late, though no message reaches it any more (the end of a replay:
no central marks the partitions every 5 s). It used to give up after 2 s and wait for its next message."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import pytest

from connectors.central.curation import EPOCH
from streams.bucketstore import partition_for
from tests.streams.test_crash_cuts import _recover as final
from tests.streams.test_curation_partitions import T0, Setup, _produce, in_process, rules_and_options

pytestmark = pytest.mark.integration


def _on(partition: int, n: int) -> list[str]:
    """n addresses whose signals land on `partition` of 2."""
    return [ip for k in range(200) if partition_for((ip := f"45.13.{k}.7").encode(), 2) == partition][:n]


def _wait(pred, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.5)
    return pred()


def test_a_worker_waiting_for_a_late_partition_of_another_worker_goes_on(broker, tmp_path, unique_name):
    """Two workers, a partition each; minute 0: three reporters list an address on each partition. The worker of
    partition 1 is stopped (SIGSTOP) while the same reporters list another address on partition 0 ten minutes later
    (a gap: partition 0 enters minute 1 and waits for partition 1 there), and continued 4 s later: both addresses
    of minute 10 are listed, though no message comes after."""
    rules, common = rules_and_options(tmp_path)
    (first, later), (other,) = _on(0, 2), _on(1, 1)
    names = ["r1", "r2", "r3"]
    events = [("register", name, f"{20 + i}.1.{i}.9", T0 - 86400 + i * 3600) for i, name in enumerate(names)]
    events += [("signals", who, [ip], T0 + i) for ip in (first, other) for i, who in enumerate(names)]
    gap = [("signals", who, [later], T0 + 10 * EPOCH + i) for i, who in enumerate(names)]
    expected, _, _ = in_process(events + gap, rules)
    want = sorted(final(expected))
    assert want == sorted(f"Ip:{ip}".encode() for ip in (first, other, later))
    s = Setup(broker, tmp_path, unique_name(), 2, 2, common)
    try:
        asyncio.run(_produce([s], events, rules, [T0]))
        assert _wait(lambda: len(final(s.blocklist())) == 2, 90), "minute 0's listings"

        def owner(partition: int):
            found = [p for p in s.procs if re.findall(r"partition (\d+) rebuilt", p.log.read_text(errors="replace"))
                     [-1:] == [str(partition)]]
            return found[0] if len(found) == 1 else None
        assert _wait(lambda: owner(1) is not None and owner(0) is not None and owner(0) is not owner(1), 30)
        late = owner(1)
        os.kill(late.proc.pid, signal.SIGSTOP)
        try:
            asyncio.run(_produce([s], gap, rules, [T0]))
            time.sleep(4)           # partition 0 waits for partition 1 past the 2 s it used to give up after
        finally:
            os.kill(late.proc.pid, signal.SIGCONT)
        logs = "\n".join(p.log.read_text(errors="replace")[-2000:] for p in s.procs)
        assert _wait(lambda: sorted(final(s.blocklist())) == want, 60), logs
    finally:
        for p in s.procs:
            p.stop()
