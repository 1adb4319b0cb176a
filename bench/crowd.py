"""`make bench-crowd`: the crowd's curation under simulated attack and poisoning (issue 12).

A deterministic simulation (seeded) of `--installations` honest installations over `--days` of simulated time,
fed to the shipped curation (connectors/central/curation.yaml, connectors/central/curation.py) exactly as
`synsec central` feeds it — one batch per installation per 10 s push, `tick` before each batch:
  attackers   each active for 10 min – 12 h, of one behaviour (http 70 %, ssh 30 %), hitting k installations
              (half of them 1–2, half 3–60, log-uniform); an installation that is hit reports it with
              probability 0.9, at a random time of the attack, under a scenario of that behaviour;
  noise       20 % of installations report false positives (4 a day): 70 % their own users (addresses nobody
              else sees), 25 % search crawlers / CDN edges / resolvers (known-good), 5 % a shared pool of
              5,000 benign addresses (corporate NATs, VPN exits, monitors) that several installations may
              misreport;
  custom      5 % of installations run an edited scenario: their reports carry a hash that is in no hub version;
  churn       every day 3 % of the installations leave and as many new ones register;
  poisoners   a farm of 50 reporters from one /24 registered within minutes, pushing 200 benign targets every
              day; a ring of 20 reporters from 20 /24s registered within 5 minutes, pushing 100 benign targets;
              one reporter dumping 10,000 addresses in an hour on day 2; and all poisoners reporting 20
              crawler / CDN / resolver addresses;
  sybils      patient sybils (`--patient-sybils N`, default 6; 0: none): N reporters from N unrelated /24s whose
              registrations are spread evenly over `--sybil-spread` days (default 49) ending a week before the
              simulation starts — no cohort rule joins them — that behave like honest installations (they are hit
              and report attacks like the others, so they earn trust by honest corroboration) and on day
              `--sybil-day` (default 3) report `--sybil-targets` (default 50) benign targets within an hour.
              `--sybil-strategy all` (default): every sybil reports every target; `rotate`: each target is reported
              by `min_reporters` sybils only, picked so that no two sybils share more targets than they must (the
              attacker who knows the collusion rule). Their targets are counted apart (listed ever, listed at the
              end of the sybil day, hours listed) and reported both outside and inside the precision.
Prints blocklist precision (listed attackers / listed), recall (listed among attackers reported by >= 3 honest
installations running unmodified scenarios within 24 h), median time from an attacker's first report to its
listing, signals/s the curation ingests on one core (process time of ingest + tick), and the curation's
memory per 100k tracked addresses (tracemalloc, 2 reporters an address). About a minute of CPU.
Then (`--central-signals`, default 200,000; 0 skips it) the same signals through a real `synsec central` process
on a loopback port (HTTP, strict validation, SQLite, curation; address blocks and registration bursts off, as
all its watchers register from 127.0.0.1 at once): 50 watchers push them in batches of 500 from 4 client
threads, and central's own CPU time (from /proc) gives its signals/s on one core.

    .venv/bin/python bench/crowd.py [--installations 1000] [--days 7] [--attackers 40000] [--seed 1] [--json F]
                                    [--central-signals 200000]
    .venv/bin/python bench/crowd.py --topology [--signals 100000] [--workers 1,2]     # Kafka mode: see
                                                                                       # bench/crowd_topology.py
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import itertools
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.central.curation import Curator, Removed  # noqa: E402
from connectors.central.rules import load_rules  # noqa: E402
from tests.procutil import stop  # noqa: E402

DAY, HOUR, PUSH = 86400.0, 3600.0, 10.0
T0 = 1_800_000_000.0
SCENARIOS = {"http": ["crowdsecurity/http-probing", "crowdsecurity/http-sensitive-files",
                      "crowdsecurity/http-bad-user-agent"],
             "ssh": ["crowdsecurity/ssh-bf", "crowdsecurity/ssh-slow-bf"]}
HASH = {name: f"{i + 1:064x}" for i, name in enumerate(n for ns in SCENARIOS.values() for n in ns)}
HUB = {name: (frozenset({HASH[name]}), behaviour) for behaviour, ns in SCENARIOS.items() for name in ns}
EDITED = "e" * 64
TARGETS = {"precision": 0.999, "recall": 0.95, "signals_per_s": 10_000}


class World:
    """The simulated crowd: who registered when and from where, and every signal with its ground truth."""

    def __init__(self, args, rules):
        self.rnd = random.Random(args.seed)
        self.rules = rules
        self.regs: list[tuple[float, str, str]] = []         # (at, reporter, address)
        self.events: list[tuple[float, str, str, str, str]] = []   # (at, reporter, ip, scenario, hash)
        self.attackers: set[str] = set()
        self.honest_reports: dict[str, list[tuple[float, str]]] = defaultdict(list)   # attacker -> (at, who)
        self.first_report: dict[str, float] = {}
        self.end = T0 + args.days * DAY
        self.patient_sybils = args.patient_sybils
        self.sybil = args
        self._used: set[str] = set()
        self._blocks = 0
        self._population(args)
        self._attacks(args)
        self._noise()
        self._poisoners()
        self.events.sort()

    # ---- addresses
    def _ip(self) -> str:
        while True:
            ip = str(ipaddress.IPv4Address(self.rnd.randrange(16_777_216, 3_758_096_384)))
            if ip not in self._used and ipaddress.IPv4Address(ip).is_global:
                self._used.add(ip)
                return ip

    def _block(self) -> str:
        """A fresh /24 (for registrations) that no other reporter uses."""
        self._blocks += 1
        n = self._blocks
        return f"{60 + n // 65536}.{(n // 256) % 256}.{n % 256}.{self.rnd.randrange(1, 255)}"

    def _known_good(self) -> str:
        nets = [r.network for r in self.rules.known_good if r.source.split(":")[0] in
                ("search-crawlers.txt", "cdn.txt", "public-dns.txt") and r.network.version == 4]
        net = self.rnd.choice(nets)
        return str(ipaddress.IPv4Address(int(net.network_address) + self.rnd.randrange(net.num_addresses)))

    # ---- honest installations and churn
    def _population(self, args) -> None:
        rnd = self.rnd
        self.active: list[tuple[str, float, float, bool, bool]] = []   # name, from, until, noisy, edited
        for i in range(args.installations):
            at = T0 - 60 * DAY + rnd.random() * 60 * DAY
            self._install(f"inst{i}", at, T0)
        for day in range(args.days):
            leaving = rnd.sample(range(len(self.active)), int(0.03 * args.installations))
            for k in leaving:
                name, start, until, noisy, edited = self.active[k]
                if until == math.inf:
                    self.active[k] = (name, start, T0 + (day + rnd.random()) * DAY, noisy, edited)
            for j in range(len(leaving)):
                at = T0 + (day + rnd.random()) * DAY
                self._install(f"new{day}-{j}", at, at)
        for i in range(args.patient_sybils):
            at = T0 - (7 + args.sybil_spread * (1 - i / args.patient_sybils)) * DAY
            self._install(f"sybil{i}", at, T0, honest=True)

    def _install(self, name: str, registered: float, start: float, honest: bool = False) -> None:
        self.regs.append((registered, name, self._block()))
        noisy, edited = self.rnd.random() < 0.20, self.rnd.random() < 0.05
        self.active.append((name, start, math.inf, noisy and not honest, edited and not honest))

    def _alive(self, at: float) -> list[int]:
        return [k for k, (_, start, until, _, _) in enumerate(self.active) if start <= at < until]

    # ---- attacks
    def _attacks(self, args) -> None:
        rnd = self.rnd
        for _ in range(args.attackers):
            ip = self._ip()
            self.attackers.add(ip)
            behaviour = "http" if rnd.random() < 0.7 else "ssh"
            start = T0 + rnd.random() * (args.days * DAY - 12 * HOUR)
            span = math.exp(rnd.uniform(math.log(600), math.log(12 * HOUR)))
            k = rnd.randint(1, 2) if rnd.random() < 0.5 else int(math.exp(rnd.uniform(math.log(3), math.log(60))))
            alive = self._alive(start)
            for idx in rnd.sample(alive, min(k, len(alive))):
                if rnd.random() >= 0.9:
                    continue
                name, _, until, _, edited = self.active[idx]
                at = start + rnd.random() * span
                if at >= until:
                    continue
                scenario = rnd.choice(SCENARIOS[behaviour])
                self.events.append((at, name, ip, scenario, EDITED if edited else HASH[scenario]))
                if not edited:
                    self.honest_reports[ip].append((at, name))

    def _noise(self) -> None:
        rnd = self.rnd
        shared = [self._ip() for _ in range(5000)]
        for name, start, until, noisy, edited in self.active:
            if not noisy:
                continue
            t = max(start, T0)
            while True:
                t += rnd.expovariate(4 / DAY)
                if t >= min(until, self.end):
                    break
                draw = rnd.random()
                ip = self._ip() if draw < 0.70 else self._known_good() if draw < 0.95 else rnd.choice(shared)
                scenario = rnd.choice(SCENARIOS["http"])
                self.events.append((t, name, ip, scenario, EDITED if edited else HASH[scenario]))

    # ---- poisoners
    def _poisoners(self) -> None:
        rnd = self.rnd
        good = [self._known_good() for _ in range(20)]
        farm_block = self._block().rsplit(".", 1)[0]
        farm = [f"farm{i}" for i in range(50)]
        for i, name in enumerate(farm):
            self.regs.append((T0 - 3 * DAY + i * 5, name, f"{farm_block}.{i + 1}"))
        ring = [f"ring{i}" for i in range(20)]
        for i, name in enumerate(ring):
            self.regs.append((T0 - 2 * DAY + i * 15, name, self._block()))
        scenario = SCENARIOS["http"][0]
        for group, n_targets in ((farm, 200), (ring, 100)):
            targets = [self._ip() for _ in range(n_targets)] + good
            for day in range(int((self.end - T0) // DAY)):
                for name in group:
                    at = T0 + day * DAY + rnd.random() * HOUR
                    self.events += [(at + j * 0.01, name, ip, scenario, HASH[scenario]) for j, ip in enumerate(targets)]
        self._sybil_attack(scenario)
        self.regs.append((T0 - 5 * DAY, "spammer", self._block()))
        self.events += [(T0 + 2 * DAY + i * 0.36, "spammer", self._ip(), scenario, HASH[scenario])
                        for i in range(10_000)]

    def _sybil_attack(self, scenario: str) -> None:
        """The patient sybils' strike: every sybil reports every target, or rotating groups of min_reporters."""
        args, rnd, n = self.sybil, self.rnd, self.patient_sybils
        self.sybil_targets = [self._ip() for _ in range(args.sybil_targets)] if n else []
        if not n:
            return
        group = min(n, self.rules.min_reporters)
        shared: dict[tuple[int, int], int] = defaultdict(int)
        start = T0 + args.sybil_day * DAY
        for ip in self.sybil_targets:
            if args.sybil_strategy == "all":
                who = list(range(n))
            else:       # the group whose pairs have shared fewest targets so far
                who = min(itertools.combinations(range(n), group),
                          key=lambda g: (max(shared[p] for p in itertools.combinations(g, 2)),
                                         sum(shared[p] for p in itertools.combinations(g, 2))))
                for p in itertools.combinations(who, 2):
                    shared[p] += 1
            self.events += [(start + rnd.random() * HOUR, f"sybil{i}", ip, scenario, HASH[scenario]) for i in who]


def run(world: World, rules) -> dict:
    """Feed the world to a curator as central would; time it; score the blocklist."""
    cur = Curator(rules, HUB)
    listed_at: dict[str, float] = {}
    ever: set[str] = set()
    regs = sorted(world.regs)
    r = 0
    batches: list[tuple[float, str, list]] = []
    key, batch = None, []
    for at, who, ip, scenario, digest in world.events:
        push = (math.floor(at / PUSH) + 1) * PUSH     # an installation pushes every 10 s
        if (push, who) != key and batch:
            batches.append((key[0], key[1], batch))
            batch = []
        key = (push, who)
        batch.append((ip, scenario, digest))
    if batch:
        batches.append((key[0], key[1], batch))
    batches.sort(key=lambda b: b[0])
    signals = sum(len(b) for _, _, b in batches)
    removed = 0
    sybil_targets = set(world.sybil_targets)
    sybil_spans: dict[str, list[float]] = defaultdict(list)    # target -> [listed, removed, listed, …]
    strike_end = T0 + (world.sybil.sybil_day + 1) * DAY
    sybil_at_end: set[str] | None = None
    cpu = time.process_time()

    collusion_removed: list[str] = []      # the collusion rule's removals (not decay's)

    def apply(changes, at: float) -> None:
        nonlocal removed
        for change in changes:
            if isinstance(change, Removed):
                removed += 1
                if change.collusion:
                    collusion_removed.append(change.value)
                if change.value in sybil_targets:
                    sybil_spans[change.value].append(at)
            elif change.new:
                ever.add(change.value)
                listed_at.setdefault(change.value, at)
                if change.value in sybil_targets:
                    sybil_spans[change.value].append(at)
    for at, who, reports in batches:
        while r < len(regs) and regs[r][0] <= at:
            cur.register(regs[r][1], regs[r][2], regs[r][0])
            r += 1
        if sybil_at_end is None and at >= strike_end:
            sybil_at_end = set(cur.listed()) & sybil_targets
        apply(cur.tick(at), at)
        apply(cur.ingest(who, reports, at), at)
    apply(cur.tick(world.end + rules.decay + 2 * rules.window), world.end + rules.decay + 2 * rules.window)
    cpu = time.process_time() - cpu

    eligible = set()
    for ip, reports in world.honest_reports.items():
        reports.sort()
        for i, (at, _) in enumerate(reports):
            if len({w for t, w in reports[i:] if t < at + rules.window}) >= 3:
                eligible.add(ip)
                break
    sybil = ever & sybil_targets
    sybil_hours = sum(sum(spans[1::2]) - sum(spans[0::2][:len(spans[1::2])]) for spans in sybil_spans.values()) / HOUR
    sybils = [f"sybil{i}" for i in range(world.patient_sybils)]
    honest = [name for _, name, _ in world.regs if name.startswith(("inst", "new"))]
    cohort_size = defaultdict(int)
    for name in honest + sybils:
        cohort_size[cur.cohort_of(name)] += 1
    benign = ever - world.attackers - sybil
    hit = eligible & ever
    ttl = [listed_at[ip] - min(t for t, _ in world.honest_reports[ip]) for ip in hit]
    st = cur.status()
    return {"installations_registered": st["reporters"], "signals": signals, "batches": len(batches),
            "attackers": len(world.attackers), "attackers_seen_by_3_honest": len(eligible),
            "listed_ever": len(ever - sybil), "listed_benign": len(benign), "tombstones": removed,
            "sybil_targets_listed": len(sybil), "sybil_targets_listed_after_strike_day": len(sybil_at_end or ()),
            "sybil_target_hours_listed": sybil_hours,
            "sybil_cohorts": len({cur.cohort_of(n) for n in sybils}),
            "sybils_trust": [round(cur.trust(n), 3) for n in sybils],
            "honest_joined_by_collusion": sum(1 for n in honest if cohort_size[cur.cohort_of(n)] > 1),
            "collusions": st["collusions"],
            "collusion_removed_sybil_targets": sum(1 for v in collusion_removed if v in sybil_targets),
            "collusion_removed_attackers": sum(1 for v in collusion_removed if v in world.attackers),
            "collusion_removed_other": sum(1 for v in collusion_removed
                                           if v not in sybil_targets and v not in world.attackers),
            "precision": (len(ever - sybil) - len(benign)) / len(ever - sybil) if ever - sybil else 1.0,
            "precision_with_sybil_targets": (len(ever) - len(benign) - len(sybil)) / len(ever) if ever else 1.0,
            "recall": len(hit) / len(eligible) if eligible else 1.0,
            "median_time_to_list_s": statistics.median(ttl) if ttl else None,
            "p90_time_to_list_s": statistics.quantiles(ttl, n=10)[-1] if len(ttl) > 10 else None,
            "cpu_s": cpu, "signals_per_s": signals / cpu if cpu else 0.0,
            "not_counted": st["signals_not_counted"], "benign_listed_sample": sorted(benign)[:10],
            "poisoners_trust": {who: round(cur.trust(who), 3) for who in ("spammer", "farm0", "ring0")},
            "farm_cohorts": len({cur.cohort_of(f"farm{i}") for i in range(50)}),
            "ring_cohorts": len({cur.cohort_of(f"ring{i}") for i in range(20)})}


def memory_per_100k(rules, n: int = 100_000) -> float:
    """Bytes the curation holds for n tracked addresses, each reported by two reporters (tracemalloc)."""
    cur = Curator(rules, HUB)
    for i in range(200):
        cur.register(f"m{i}", f"70.{i}.0.1", T0 - DAY * (i + 1))
    scenario = SCENARIOS["http"][0]
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(n):
        ip = f"80.{i // 65536}.{(i // 256) % 256}.{i % 256}"
        cur.ingest(f"m{i % 200}", [(ip, scenario, HASH[scenario])], T0 + i * 0.001)
        cur.ingest(f"m{(i + 7) % 200}", [(ip, scenario, HASH[scenario])], T0 + i * 0.001)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(cur.ips) == n
    return used * 100_000 / n


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hub_index(path: Path) -> None:
    """A hub index holding the simulation's scenarios and hashes (CrowdSec's .index.json shape)."""
    content = base64.b64encode(b"type: leaky\n").decode()
    scenarios = {name: {"path": f"scenarios/{name}.yaml", "version": "0.1", "content": content,
                        "versions": {"0.1": {"digest": HASH[name], "deprecated": False}},
                        "labels": {"service": behaviour}}
                 for behaviour, names in SCENARIOS.items() for name in names}
    path.write_text(json.dumps({"scenarios": scenarios, "parsers": {}, "collections": {}, "postoverflows": {}}))


class CentralProcess:
    """A real `synsec central` child process on a free loopback port, its own state dir under `work`, the
    simulation's hub index and rules relaxed for watchers that all register from 127.0.0.1 at once (address
    blocks and registration bursts off); an HTTP client for it. `extra`: more options (`--broker …`)."""

    def __init__(self, work: Path, name: str, extra: tuple[str, ...] = ()):
        self.index, self.rules = work / "index.json", work / "curation.yaml"
        if not self.index.exists():
            _hub_index(self.index)
            self.rules.write_text("cohorts: {same_block: false, burst_size: 1000000}\n")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"
        self.state = work / name
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.proc = subprocess.Popen([sys.executable, "-m", "synsec.cli.main", "central", "--listen",
                                      f"127.0.0.1:{port}", "--state-dir", str(self.state), *self.options(), *extra],
                                     stdout=subprocess.DEVNULL, stderr=open(work / f"{name}.log", "wb"), cwd=ROOT)

    def options(self) -> list[str]:
        """The rules and hub options central runs with (the curation workers take the same)."""
        return ["--hub-index", str(self.index), "--curation", str(self.rules)]

    def call(self, path: str, body=None, token: str | None = None):
        data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
        with self.opener.open(req, timeout=120) as resp:
            return json.loads(resp.read() or b"null")

    def wait_health(self, ready=lambda health: True, timeout: float = 60.0) -> dict:
        """Its /health once `ready(health)` holds; RuntimeError when it does not within `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"synsec central exited with {self.proc.returncode}")
            try:
                health = self.call("health")
                if ready(health):
                    return health
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("synsec central did not get ready")

    def register(self, watchers: int) -> list[str]:
        """Register and log in `watchers` watchers; their tokens."""
        tokens = []
        for i in range(watchers):
            cred = {"machine_id": f"bench-{i}", "password": f"pw-{i}"}
            self.call("v2/watchers", cred)
            tokens.append(self.call("v2/watchers/login", cred)["token"])
        return tokens

    def push(self, bodies: list[tuple[str, bytes, int]], threads: int = 4) -> list[str]:
        """POST every (token, body, count) to v2/signals from `threads` client threads; a 503 (Kafka mode: stored,
        not yet published) is sent again a second later (central drops the resend's signals as resends). The
        errors."""
        queue = list(reversed(bodies))
        lock = threading.Lock()
        errors: list[str] = []

        def work():
            while True:
                with lock:
                    if not queue:
                        return
                    token, body, _ = queue.pop()
                for _attempt in range(30):
                    try:
                        self.call("v2/signals", body, token)
                        break
                    except urllib.error.HTTPError as err:
                        if err.code != 503:
                            errors.append(str(err))
                            break
                        time.sleep(1.0)
                    except OSError as err:
                        errors.append(str(err))
                        break
        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return errors

    def cpu(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        stop(self.proc, grace=15)


def signals_body(reports: list[tuple[str, str, str]], first: int) -> bytes:
    """A v2 signals body of (address, scenario, hash) reports; each signal's `created_at` its own (numbered
    from `first`), as central drops a v2 signal equal to one its watcher sent before."""
    return json.dumps([
        {"scenario": sc, "scenario_hash": h, "scenario_version": "0.1", "source": {"scope": "Ip", "value": ip},
         "start_at": "2026-11-22T10:00:00Z", "stop_at": "2026-11-22T10:00:05Z",
         "created_at": f"2026-11-22T10:00:05.{first + k:09d}Z"} for k, (ip, sc, h) in enumerate(reports)]).encode()


def central_throughput(world: World, n: int, watchers: int = 50, batch: int = 500, threads: int = 4) -> dict:
    """`synsec central` in its own process, fed n of the simulated signals over HTTP: its CPU-time signals/s."""
    work = Path(tempfile.mkdtemp(prefix="bench-crowd-"))
    central = CentralProcess(work, "state")
    try:
        central.wait_health(timeout=20)
        tokens = central.register(watchers)
        events = world.events[:n]
        bodies = [(tokens[start // batch % watchers],
                   signals_body([(ip, sc, h) for _, _, ip, sc, h in events[start:start + batch]], start),
                   len(events[start:start + batch])) for start in range(0, len(events), batch)]
        cpu, wall = central.cpu(), time.monotonic()
        errors = central.push(bodies, threads)
        cpu, wall = central.cpu() - cpu, time.monotonic() - wall
        sent = sum(k for _, _, k in bodies)
        status = central.call("v2/crowd/status", token=tokens[0])
        return {"central_signals": sent, "central_errors": len(errors), "central_cpu_s": cpu, "central_wall_s": wall,
                "central_signals_per_cpu_s": sent / cpu if cpu else 0.0, "central_listed": status["listed"],
                "central_signals_received": status["signals_received"]}
    finally:
        central.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--installations", type=int, default=1000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--attackers", type=int, default=40_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rules", help="a curation.yaml (default: the shipped one)")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--patient-sybils", type=int, default=6,
                    help="reporters from unrelated networks that build trust, then report benign targets (0: none)")
    ap.add_argument("--sybil-targets", type=int, default=50, help="benign addresses the sybils report")
    ap.add_argument("--sybil-day", type=int, default=3, help="simulated day of the sybils' strike")
    ap.add_argument("--sybil-spread", type=float, default=49.0,
                    help="days over which the sybils registered (ending a week before the simulation)")
    ap.add_argument("--sybil-strategy", choices=("all", "rotate"), default="all",
                    help="all: every sybil reports every target; rotate: min_reporters sybils a target")
    ap.add_argument("--central-signals", type=int, default=200_000,
                    help="signals pushed through a real synsec central process (0: skip)")
    ap.add_argument("--topology", action="store_true",
                    help="Kafka mode instead (bench/crowd_topology.py): central --broker and curation workers on "
                         "the bundled broker, the first --signals signals through central's HTTP API")
    ap.add_argument("--signals", type=int, default=100_000, help="with --topology: signals pushed")
    ap.add_argument("--workers", default="1,2", help="with --topology: curation worker counts, one run each")
    args = ap.parse_args()
    rules = load_rules(args.rules)
    t = time.monotonic()
    world = World(args, rules)
    print(f"simulated {args.installations} installations over {args.days} days: {len(world.events):,} signals "
          f"(built in {time.monotonic() - t:.1f}s)", file=sys.stderr)
    if args.topology:
        from bench.crowd_topology import print_topology, run_topology

        results = run_topology(world, args.signals, [int(w) for w in args.workers.split(",")])
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
        return 0 if print_topology(results) else 1
    out = run(world, rules)
    out["memory_per_100k_tracked_bytes"] = memory_per_100k(rules)
    if args.central_signals:
        out.update(central_throughput(world, args.central_signals))
    out["targets"] = TARGETS
    ok = (out["precision"] >= TARGETS["precision"] and out["recall"] >= TARGETS["recall"]
          and out["signals_per_s"] >= TARGETS["signals_per_s"]
          and out.get("central_signals_per_cpu_s", math.inf) >= TARGETS["signals_per_s"])
    mtl = out["median_time_to_list_s"]
    print(f"precision {out['precision']:.5f} ({out['listed_benign']} benign of {out['listed_ever']} listed; "
          f"target >= {TARGETS['precision']})")
    print(f"recall    {out['recall']:.4f} of {out['attackers_seen_by_3_honest']} attackers seen by >= 3 honest "
          f"installations within 24 h (target >= {TARGETS['recall']})")
    print(f"median time-to-list {mtl / 60:.1f} min (p90 {(out['p90_time_to_list_s'] or 0) / 60:.1f} min), "
          f"tombstones {out['tombstones']}" if mtl is not None else "nothing listed")
    print(f"ingest    {out['signals_per_s']:,.0f} signals/s on one core ({out['signals']:,} signals, "
          f"{out['cpu_s']:.1f} s CPU; target >= {TARGETS['signals_per_s']:,})")
    print(f"memory    {out['memory_per_100k_tracked_bytes'] / 2 ** 20:.1f} MiB per 100k tracked addresses")
    if "central_signals" in out:
        print(f"central   {out['central_signals_per_cpu_s']:,.0f} signals/s per CPU second of the synsec central "
              f"process over HTTP ({out['central_signals']:,} signals, {out['central_cpu_s']:.1f} s CPU, "
              f"{out['central_wall_s']:.1f} s wall, {out['central_errors']} errors, {out['central_listed']} listed; "
              f"target >= {TARGETS['signals_per_s']:,})")
    print(f"poisoners trust {out['poisoners_trust']}, farm of 50 = {out['farm_cohorts']} cohort(s), ring of 20 = "
          f"{out['ring_cohorts']} cohort(s); not counted {out['not_counted']}")
    if args.patient_sybils:
        print(f"sybils    {args.patient_sybils} patient reporters ({args.sybil_strategy}) listed "
              f"{out['sybil_targets_listed']} of their {args.sybil_targets} benign targets "
              f"({out['sybil_targets_listed_after_strike_day']} still listed a day after, "
              f"{out['sybil_target_hours_listed']:.1f} target-hours listed); precision with them "
              f"{out['precision_with_sybil_targets']:.5f}; they end as {out['sybil_cohorts']} cohort(s), trust "
              f"{out['sybils_trust']}; {out['collusions']} collusion join(s), "
              f"{out['honest_joined_by_collusion']} honest installation(s) joined; removed by the rule: "
              f"{out['collusion_removed_sybil_targets']} sybil target(s), {out['collusion_removed_attackers']} "
              f"attacker(s), {out['collusion_removed_other']} other")
    print("targets met" if ok else "TARGETS MISSED")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
