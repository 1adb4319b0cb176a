"""How long `synsec central` takes to rebuild its curation at start, per million stored signals.

Fills a central store (connectors/central/store.py) with the registrations and signals of bench/crowd.py's
simulated crowd (in batches of one installation's 10 s push, as central stores them), then times
`Central.restore()` (CPU seconds): reading the store's history alone, the full rebuild from the history, and
the rebuild from the snapshot central writes (connectors/central/store.py `save_snapshot`) plus the signals
stored after it (`--after` of them). Run: `.venv/bin/python bench/crowd_restart.py [--installations 1000 --days 7]`.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.crowd import HUB, PUSH, World  # noqa: E402
from connectors.central.curation import Curator  # noqa: E402
from connectors.central.rules import load_rules  # noqa: E402
from connectors.central.server import Central  # noqa: E402
from connectors.central.signals import Signal  # noqa: E402
from connectors.central.store import CentralStore  # noqa: E402


def fill(store: CentralStore, world: World) -> int:
    """The world's registrations and signals into `store`, in central's order; the number of signals."""
    for at, name, address in sorted(world.regs):
        store.add_watcher(name, "x", at, address)
    batches: dict[tuple[float, str], list[Signal]] = {}
    for at, who, ip, scenario, digest in world.events:
        push = (math.floor(at / PUSH) + 1) * PUSH
        batches.setdefault((push, who), []).append(Signal(who, scenario, digest, "0.1", "Ip", ip, "", "", "", 1))
    n = 0
    for (at, who), signals in sorted(batches.items()):
        store.add_signals(who, signals, at)
        n += len(signals)
    return n


def cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--installations", type=int, default=1000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--attackers", type=int, default=40_000)
    ap.add_argument("--after", type=int, default=10_000, help="signals stored after the snapshot")
    args = ap.parse_args()
    rules = load_rules()
    world = World(SimpleNamespace(installations=args.installations, days=args.days, attackers=args.attackers,
                                  seed=1, patient_sybils=0), rules)
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp:
        store = CentralStore(Path(tmp))
        later = world.events[len(world.events) - args.after:]
        world.events = world.events[:len(world.events) - args.after]
        n = fill(store, world)
        end = world.events[-1][0] + PUSH

        def central(snapshots: bool) -> Central:
            return Central(store=store, secret=b"s" * 32, curator=Curator(rules, HUB), clock=lambda: end,
                           snapshots=snapshots)

        history = cpu(lambda: sum(1 for _ in store.history()))
        full = central(True)                     # no snapshot yet: the whole history
        replay = cpu(full.restore)
        full.save_snapshot()
        world.events, world.regs = later, []
        n_after = fill(store, world)
        again = central(True)
        snap = cpu(again.restore)
        reference = central(False)
        reference.restore()
        same = again.curator.listed() == reference.curator.listed() and all(
            again.curator.trust(r) == reference.curator.trust(r) for r in reference.curator.reporters)
        store.close()
    per_m = 1e6 / n
    print(f"{n:,} stored signals ({len(world.regs) or args.installations} installations)")
    print(f"history read      {history:6.2f} s CPU ({history * per_m:5.1f} s per million)")
    print(f"rebuild by replay {replay:6.2f} s CPU ({replay * per_m:5.1f} s per million)")
    print(f"rebuild from the snapshot + {n_after:,} later signals: {snap:6.2f} s CPU "
          f"(same state as a full replay: {same})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
