"""The crowd's curation, pure: reports in, blocklist changes out (docs/crowd.md has the rules and the why).

No I/O and no clock: every call takes `now` (the time central received the reports), so replaying the stored
registrations and signals in order rebuilds the same state. `Curator.register` places a reporter in a cohort
(same address block, same registration burst); `ingest` takes one reporter's reports and returns what was
listed or had its expiry moved into another hour; `tick` expires reports and entries and returns the removals
(tombstones). Trust is `(prior_good + corroborated) / (prior_good + prior_bad + corroborated + bad)`, from
integer counts (corroborations; uncorroborated, known-good, burst and collusion reports), and every decision
reads it as it stood at the start of the current minute (an *epoch*): so the Kafka topology, which sums the
counts of every partition once each has finished an epoch, decides what one process decides (streams/curation.py).
Expiry runs minute by minute at each minute's own time, whatever the times `tick` is called at.
Collusion: reporters that found (make the consensus of a first listing) more than `collusion.max_shared`
listings together within `collusion.window` become one cohort at the start of the next minute (an epoch), and
the listings that no longer hold are removed then (`tick`, or `ingest` when nothing ticked, returns them). The
co-foundings are kept per pair as (minute, address) in `Pairs`; the joins of minute *m* read every co-founding
of the minutes before *m* and the trust of *m*, so the Kafka topology, where an address's co-foundings are seen
on its partition only, shares them like trust and joins the same cohorts at the same minute on every partition
(`join`, `pair_view`: streams/curation.py).
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from connectors.central.pairs import PAIR_SEP, Pairs
from connectors.central.rules import KnownGoodRange, Rules
from synsec.engine.expr.helpers_net import IpRangeSet, canonical_ipv4, parse_ip
from synsec.hub.index import HubIndex

__all__ = ["Curator", "Listed", "Removed", "KnownGood", "hub_scenarios", "Changed", "EPOCH", "epoch_of",
           "GOOD", "UNCORROBORATED", "KNOWN_GOOD", "BURST", "COLLUSION", "NO_COUNTS"]

EPOCH = 60.0         # seconds per slot of the expiry wheel, and per trust epoch
_GRAIN = EPOCH
GOOD, UNCORROBORATED, KNOWN_GOOD, BURST, COLLUSION = range(5)     # a reporter's counts, in this order
NO_COUNTS = (0, 0, 0, 0, 0)


def epoch_of(now: float) -> int:
    """The epoch (minute) of a time: decisions in it read trust as of its start."""
    return int(now // EPOCH)
_PUBLISH_STEP = 3600.0   # a listed entry's moved expiry is published when it crosses an hour (not every report)


@dataclass(frozen=True)
class Listed:
    value: str
    scenario: str
    until: float
    new: bool         # first listing (False: its expiry moved)


@dataclass(frozen=True)
class Removed:
    value: str
    collusion: bool = False   # removed by the collusion rule (else: decay)


def hub_scenarios(index: HubIndex) -> dict[str, tuple[frozenset[str], str]]:
    """Scenario name -> (sha256 of every hub version, its behaviour: its `service` label, else its `type`
    label, else '')."""
    out = {}
    for item in index.of_type("scenarios"):
        labels = dict(item.labels)
        out[item.name] = (frozenset(item.digests.values()), labels.get("service") or labels.get("type") or "")
    return out


class KnownGood:
    """Membership of known-good ranges (one bisection, synsec.engine's IpRangeSet) and which range it is."""

    def __init__(self, ranges: Iterable[KnownGoodRange]):
        self.ranges = tuple(ranges)
        self._set = IpRangeSet([str(r.network) for r in self.ranges])

    def contains(self, value: str) -> bool:
        """Whether the address is in a known-good range (anything that is not an address counts as one)."""
        n = canonical_ipv4(value)
        if n is not None:
            return self._set.contains_int(4, n)
        addr = parse_ip(value)
        return addr is None or self._set.contains_address(addr)

    def which(self, value: str) -> KnownGoodRange | None:
        """The first range holding the address (for explanations)."""
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return None
        return next((r for r in self.ranges if ip.version == r.network.version and ip in r.network), None)


class _Reporter:
    __slots__ = ("name", "id", "counts", "base", "epoch", "t_epoch", "t", "burst_start", "burst_count", "signals",
                 "refused", "label")

    def __init__(self, name: str, rid: int):
        self.name, self.id = name, rid
        self.counts = [0, 0, 0, 0, 0]  # GOOD, UNCORROBORATED, KNOWN_GOOD, BURST, COLLUSION so far
        self.base = NO_COUNTS              # the counts before `epoch`, the epoch of their last change
        self.epoch = -1
        self.t_epoch, self.t = None, 0.0     # trust as read in epoch t_epoch
        self.burst_start = float("-inf")
        self.burst_count = self.signals = self.refused = 0
        self.label = ""          # the cohort label central gave it (Kafka mode: `assign_cohort`)

    def at(self, epoch: int) -> tuple:
        """The counts as they stood at the start of `epoch`."""
        return tuple(self.counts) if self.epoch < epoch else self.base

    def trust_record(self) -> list:
        return [self.epoch, self.counts, list(self.base)]

    def record(self) -> list:
        return [*self.trust_record(), self.signals, self.refused, self.label]


class _Untracked:
    """Where changes go when nobody persists them (central's in-process curation)."""

    @staticmethod
    def add(_item) -> None:
        return None


class Changed:
    """What changed since the last `take_changes`: addresses and reporters whose records to write again."""

    __slots__ = ("ips", "reporters")

    def __init__(self):
        self.ips: set[str] = set()
        self.reporters: set[int] = set()
    # the pairs of the collusion rule are tracked by `Pairs.changed`


class _Ip:
    __slots__ = ("entries", "until", "scenario", "slot")

    def __init__(self):
        self.entries: dict[int, tuple] = {}   # reporter id -> (first, last, behaviour, scenario, corroborated)
        self.until = 0.0                      # listed until (0: not listed)
        self.scenario = ""
        self.slot = -1


class Curator:
    """The curation state of one central: reporters, cohorts, reports within the window, listed entries."""

    def __init__(self, rules: Rules, scenarios: dict[str, tuple[frozenset[str], str]] | None = None,
                 known_good: KnownGood | None = None, track: bool = False):
        self.rules = rules
        self.scenarios = scenarios or {}
        self.known_good = known_good if known_good is not None else KnownGood(rules.known_good)
        self.reporters: dict[str, _Reporter] = {}
        self._by_id: list[_Reporter] = []
        self._parent: list[int] = []
        self._block_owner: dict[str, int] = {}
        self._recent: deque[tuple[float, int]] = deque()
        self.ips: dict[str, _Ip] = {}
        self._wheel: dict[int, set[str]] = {}
        self._next_slot: int | None = None
        self._names: dict[str, str] = {}      # interned scenario and behaviour names
        self.received = 0
        self.refused: Counter[str] = Counter()
        self._labels: dict[str, int] = {}     # cohort label -> its first reporter (assign_cohort)
        self._moved: list[int] | None = None      # reporters whose cohort a registration changed
        self._members: dict[int, list[int]] = {}    # cohort root -> its reporters (cohorts of more than one)
        self.pairs = Pairs()                  # this curator's co-foundings and joins
        self._pairs_sweep = 1024              # drop old co-foundings when there are more pairs than this
        self._joined = -1                     # the last epoch whose joins were applied
        self.pair_view = None     # Kafka mode: every partition's co-foundings (`founded`, `shared`); see `join`
        self.collusions = 0                   # reporters joined by the collusion rule
        self._changed = Changed() if track else None
        self._dirty_ips = self._changed.ips if track else _Untracked
        self._dirty_reporters = self._changed.reporters if track else _Untracked
        if not track:
            self.pairs.changed = self.pairs.published = _Untracked
        self._counted: set[int] = set()       # reporters whose counts changed since `trust_changes`
        self._epoch = -1                      # the epoch being decided in
        self.view = None          # Kafka mode: (name, epoch) -> every partition's counts at the epoch's start

    # ------------------------------------------------------------------ reporters and cohorts
    def _reporter(self, name: str) -> _Reporter:
        r = self.reporters.get(name)
        if r is None:
            r = self.reporters[name] = _Reporter(name, len(self._by_id))
            self._by_id.append(r)
            self._parent.append(r.id)
        return r

    def _cohort(self, rid: int) -> int:
        parent = self._parent
        while parent[rid] != rid:
            parent[rid] = parent[parent[rid]]
            rid = parent[rid]
        return rid

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._cohort(a), self._cohort(b)
        if ra != rb:
            root, child = min(ra, rb), max(ra, rb)
            self._parent[child] = root
            moved = self._members.pop(child, [child])
            self._members[root] = self._members.get(root, [root]) + moved
            if self._moved is not None:
                self._moved += moved

    def register(self, name: str, address: str | None, at: float) -> dict[str, str]:
        """A reporter registered from `address` at `at`: joins the cohort of its address block and burst.
        Returns the reporters whose cohort changed, with their cohort's new name (Kafka mode publishes them)."""
        self._moved = []
        r = self._reporter(name)
        rules = self.rules
        if rules.same_block and address:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                ip = None
            if ip is not None:
                prefix = rules.ipv4_prefix if ip.version == 4 else rules.ipv6_prefix
                block = str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
                owner = self._block_owner.setdefault(block, r.id)
                self._union(owner, r.id)
        recent = self._recent
        recent.append((at, r.id))
        while recent and recent[0][0] < at - rules.registration_burst_window:
            recent.popleft()
        if len(recent) >= rules.registration_burst_size:
            for _, rid in recent:
                self._union(recent[0][1], rid)
        moved, self._moved = {r.id, *self._moved}, None
        return {self._by_id[i].name: self._by_id[self._cohort(i)].name for i in sorted(moved)}

    def trust(self, name: str) -> float:
        """A reporter's trust with every count so far (decisions read it from the epoch's start)."""
        r = self._reporter(name)
        return self._formula(r.counts if self.view is None else self.view(name, self._epoch))

    def _formula(self, c) -> float:
        rules = self.rules
        good = rules.prior_good + c[GOOD]
        return good / (good + rules.prior_bad + c[UNCORROBORATED] * rules.uncorroborated
                       + c[KNOWN_GOOD] * rules.known_good_weight + c[BURST] * rules.burst_weight
                       + c[COLLUSION] * rules.collusion_weight)

    def _trust(self, r: _Reporter) -> float:
        """The trust decisions read: as the counts stood at the start of the current epoch."""
        epoch = self._epoch
        if r.t_epoch != epoch:
            r.t_epoch = epoch
            r.t = self._formula(r.at(epoch) if self.view is None else self.view(r.name, epoch))
        return r.t

    def _charge(self, r: _Reporter, kind: int) -> None:
        """Count a corroboration or a contradiction of `r`, in the current epoch."""
        if r.epoch != self._epoch:
            r.base, r.epoch = tuple(r.counts), self._epoch
        r.counts[kind] += 1
        self._counted.add(r.id)
        self._dirty_reporters.add(r.id)

    def cohort_of(self, name: str) -> str:
        return self._by_id[self._cohort(self._reporter(name).id)].name

    # ------------------------------------------------------------------ reports
    def _intern(self, text: str) -> str:
        return self._names.setdefault(text, text)

    def verdict(self, scenario: str, digest: str) -> str:
        """Why a report of this scenario would not count ('' when it counts)."""
        if not self.rules.hub_only:
            return ""
        known = self.scenarios.get(scenario)
        if known is None:
            return "custom scenario (not in central's hub index)"
        if digest.lower() not in known[0]:
            return "modified scenario (its hash is no hub version's)"
        return ""

    def behaviour(self, scenario: str) -> str:
        """The behaviour a scenario's reports count for (consensus, and what a watcher's pull serves it): with
        `consensus.behaviour: service`, its hub `service` label, else `type` label; otherwise (or for a scenario
        not in the hub index, or without those labels) its own name."""
        if self.rules.behaviour == "service":
            known = self.scenarios.get(scenario)
            if known and known[1]:
                return self._intern(known[1])
        return self._intern(scenario)

    def beyond_burst(self, name: str, n: int, now: float) -> list[bool]:
        """Which of a reporter's next `n` reports, received at `now`, exceed its burst limit (in order)."""
        r = self._reporter(name)
        rules = self.rules
        out = []
        for _ in range(n):
            if now - r.burst_start >= rules.burst_window:
                r.burst_start, r.burst_count = now, 0
            r.burst_count += 1
            out.append(r.burst_count > rules.burst_max_reports)
        return out

    def ingest(self, name: str, reports: Iterable[tuple[str, str, str]], now: float,
               beyond: list[bool] | None = None) -> list[Listed | Removed]:
        """One reporter's (address, scenario, scenario hash) reports received at `now`: what got listed (and
        what the collusion rule removed).
        `beyond` (Kafka mode: central's `beyond_burst`, which sees all of a reporter's reports) says which
        exceed the burst limit; by default this curator counts them."""
        r = self._reporter(name)
        out: list[Listed | Removed] = []
        self._start(now)
        self._due_join(epoch_of(now), out)
        self._epoch = epoch_of(now)
        self._dirty_reporters.add(r.id)
        reports = list(reports)
        if beyond is None:
            beyond = self.beyond_burst(name, len(reports), now)
        for (value, scenario, digest), over in zip(reports, beyond):
            self.received += 1
            r.signals += 1
            if over:
                self._charge(r, BURST)
                self._refuse(r, "burst")
            elif self.known_good.contains(value):
                self._charge(r, KNOWN_GOOD)
                self._refuse(r, "known-good")
            elif self.verdict(scenario, digest):
                self._refuse(r, "custom or modified scenario")
            else:
                self._report(r, value, self._intern(scenario), self.behaviour(scenario), now, out)
        return out

    def _refuse(self, r: _Reporter, why: str) -> None:
        r.refused += 1
        self.refused[why] += 1

    def _report(self, r: _Reporter, value: str, scenario: str, behaviour: str, now: float, out: list) -> None:
        st = self.ips.get(value)
        if st is None:
            st = self.ips[value] = _Ip()
        entries = st.entries
        old = entries.get(r.id)
        corroborated = old[4] if old else False
        min_trust, horizon = self.rules.min_trust, now - self.rules.window
        mine = self._cohort(r.id)
        trusted = self._trust(r) >= min_trust
        for rid, e in entries.items():
            if rid == r.id or e[1] <= horizon or self._cohort(rid) == mine:
                continue
            other = self._by_id[rid]
            if trusted and not e[4]:
                self._charge(other, GOOD)
                entries[rid] = e[:4] + (True,)
            if not corroborated and self._trust(other) >= min_trust:
                corroborated = True
                self._charge(r, GOOD)
        entries[r.id] = (old[0] if old else now, now, behaviour, scenario, corroborated)
        self._dirty_ips.add(value)
        self._evaluate(value, st, now, out)
        self._schedule(value, st)

    def _support(self, st: _Ip, now: float) -> dict[str, dict[int, float]]:
        """behaviour -> cohort -> the trust of its most trusted counted reporter, over the window."""
        horizon, min_trust = now - self.rules.window, self.rules.min_trust
        out: dict[str, dict[int, float]] = {}
        for rid, e in st.entries.items():
            if e[1] <= horizon:
                continue
            t = self._trust(self._by_id[rid])
            if t < min_trust:
                continue
            per = out.setdefault(e[2], {})
            c = self._cohort(rid)
            if t > per.get(c, 0.0):
                per[c] = t
        return out

    def _founders(self, st: _Ip, behaviour: str, now: float) -> list[str]:
        """The reporters that make the consensus for `behaviour`: each counted cohort's most trusted one."""
        horizon, min_trust = now - self.rules.window, self.rules.min_trust
        best: dict[int, tuple[float, str]] = {}     # ties go to the first name: ids differ by partition
        for rid, e in st.entries.items():
            if e[1] <= horizon or e[2] != behaviour:
                continue
            r = self._by_id[rid]
            t = self._trust(r)
            c = self._cohort(rid)
            if t >= min_trust and (c not in best or (-t, r.name) < (-best[c][0], best[c][1])):
                best[c] = (t, r.name)
        return sorted(name for _, name in best.values())

    def _found(self, value: str, st: _Ip, behaviour: str, now: float) -> None:
        """A first listing: its founders' pairs co-founded it (the joins come at the next epoch: `join`)."""
        rules = self.rules
        if not rules.collusion_max_shared:
            return
        founders = self._founders(st, behaviour, now)
        epoch, keep = epoch_of(now), 2 * self._window_epochs()
        pairs = self.pairs
        for i, a in enumerate(founders):
            for b in founders[i + 1:]:
                pairs.add((a, b), epoch, value, keep)
        if len(pairs.seen) > self._pairs_sweep:
            pairs.sweep(epoch - keep)
            self._pairs_sweep = max(1024, 2 * len(pairs.seen))

    def _window_epochs(self) -> int:
        return max(1, math.ceil(self.rules.collusion_window / EPOCH))

    def _due_join(self, epoch: int, out: list) -> None:
        """In one process: the joins due at the start of an epoch up to `epoch` (the one after the last
        co-founding), unless applied already. Kafka mode calls `join` itself, once every partition is there."""
        due = self.pairs.last + 1
        if self.pair_view is None and self._joined < due <= epoch:
            out += self.join(due)

    def join(self, epoch: int) -> list[Removed]:
        """The collusion rule at the start of `epoch`: pairs that co-founded in the epoch before and, with it,
        more than `collusion.max_shared` listings within `collusion.window`, at least `collusion.min_share` of
        what either of them founded there, become one cohort; the listings that no longer hold are removed.
        Reads every partition's co-foundings in Kafka mode (`pair_view`)."""
        out: list[Removed] = []
        self._joined = max(self._joined, epoch)
        rules = self.rules
        if not rules.collusion_max_shared:
            return out
        view = self.pair_view if self.pair_view is not None else self.pairs
        first = epoch - self._window_epochs()
        joined = []
        for a, b in sorted(view.founded(epoch - 1)):
            ra, rb = self._reporter(a).id, self._reporter(b).id
            if self._cohort(ra) == self._cohort(rb):
                continue
            shared = view.shared((a, b), first, epoch - 1)
            if shared > rules.collusion_max_shared and shared >= rules.collusion_min_share * max(
                    view.founded_by(a, first, epoch - 1), view.founded_by(b, first, epoch - 1)):
                self._union(ra, rb)
                self.pairs.joined[(a, b)] = epoch
                self.pairs.changed.add((a, b))
                self.collusions += 1
                self._dirty_reporters.add(ra)
                self._dirty_reporters.add(rb)
                joined.append(ra)
        view.forget(epoch - 2 * self._window_epochs())
        if joined:
            saved, self._epoch = self._epoch, epoch
            self._recheck(joined, epoch * EPOCH, out)
            self._epoch = max(saved, epoch)
        return out

    def _recheck(self, joined: list[int], now: float, out: list) -> None:
        """Remove the listings the joined cohorts supported that no longer hold; cost their reporters trust."""
        roots = {self._cohort(a) for a in joined}
        members = {rid for root in roots for rid in self._members.get(root, [root])}
        for value, st in sorted(self.ips.items()):
            if not st.until or not st.entries.keys() & members or self._holds(self._support(st, now)) is not None:
                continue
            st.until, st.scenario = 0.0, ""
            out.append(Removed(value, collusion=True))
            self._dirty_ips.add(value)
            for rid in st.entries.keys() & members:
                self._charge(self._by_id[rid], COLLUSION)
            st.slot = -1
            self._schedule(value, st)

    def _holds(self, support: dict[str, dict[int, float]]) -> str | None:
        rules = self.rules
        best = [(len(per), math.fsum(per.values()), b) for b, per in support.items()
                if len(per) >= rules.min_reporters and math.fsum(per.values()) >= rules.min_score]
        return max(best)[2] if best else None

    def _evaluate(self, value: str, st: _Ip, now: float, out: list) -> None:
        behaviour = self._holds(self._support(st, now))
        if behaviour is None:
            return
        new = not st.until
        if new:
            names = Counter(e[3] for e in st.entries.values() if e[2] == behaviour and e[1] > now - self.rules.window)
            st.scenario = min(names.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        old, st.until = st.until, now + self.rules.decay
        if new or int(st.until // _PUBLISH_STEP) != int(old // _PUBLISH_STEP):
            out.append(Listed(value, st.scenario, st.until, new))
        if new:
            self._found(value, st, behaviour, now)

    # ------------------------------------------------------------------ expiry
    def _start(self, now: float) -> None:
        if self._next_slot is None:
            self._next_slot = int(now // _GRAIN)

    def _schedule(self, value: str, st: _Ip) -> None:
        due = min(e[1] for e in st.entries.values()) + self.rules.window if st.entries else st.until
        if st.until:
            due = min(due, st.until)
        slot = int(due // _GRAIN) + 1
        if slot != st.slot:
            st.slot = slot
            self._wheel.setdefault(slot, set()).add(value)

    def tick(self, now: float) -> list[Removed]:
        """Expire reports older than the window (an uncorroborated one costs its reporter trust) and listed
        entries past their expiry, minute by minute up to `now`: the removals to publish."""
        self._start(now)
        out = self._run_slots(int(now // _GRAIN))
        self._epoch = epoch_of(now)
        return out

    def advance(self, epoch: int) -> list[Removed]:
        """Run expiry through the minute before `epoch` (Kafka mode: before the epoch's trust is summed)."""
        return self._run_slots(epoch - 1) if self._next_slot is not None else []

    def _run_slots(self, last: int) -> list[Removed]:
        out: list[Removed] = []
        slot = self._next_slot
        while slot <= last:
            self._due_join(slot, out)
            self._epoch = slot
            at = slot * _GRAIN
            for value in self._wheel.pop(slot, ()):
                st = self.ips.get(value)
                if st is not None and st.slot == slot:
                    self._expire(value, st, at, out)
            slot += 1
        self._next_slot = max(self._next_slot, last + 1)
        return out

    def _expire(self, value: str, st: _Ip, now: float, out: list) -> None:
        horizon = now - self.rules.window
        self._dirty_ips.add(value)
        for rid, e in list(st.entries.items()):
            if e[1] <= horizon:
                if not e[4]:
                    self._charge(self._by_id[rid], UNCORROBORATED)
                del st.entries[rid]
        if st.until and st.until <= now:
            out.append(Removed(value))
            st.until, st.scenario = 0.0, ""
        if not st.entries and not st.until:
            del self.ips[value]
            return
        st.slot = -1
        self._schedule(value, st)

    # ------------------------------------------------------------------ persistence (Kafka mode)
    def assign_cohort(self, name: str, label: str) -> None:
        """Kafka mode: central names each reporter's cohort (`label`); reporters of one label are one cohort."""
        r = self._reporter(name)
        if r.label != label:
            r.label = label
            self._union(self._labels.setdefault(label, r.id), r.id)
            self._dirty_reporters.add(r.id)

    def take_changes(self) -> tuple[dict[str, list | None], dict[str, list], dict[str, list | None]]:
        """The records of what changed since the last call: addresses (None: gone), reporters, and pairs of
        the collusion rule (key `a\\0b`; None: gone); needs `track`."""
        changed = self._changed
        ips = {v: self._ip_record(self.ips.get(v)) for v in changed.ips}
        reporters = {self._by_id[rid].name: self._by_id[rid].record() for rid in changed.reporters}
        pairs = {PAIR_SEP.join(pair): self.pairs.record(pair) for pair in self.pairs.changed}
        changed.ips.clear()
        changed.reporters.clear()
        self.pairs.changed.clear()
        return ips, reporters, pairs

    def pair_changes(self) -> dict[tuple[str, str], list]:
        """Kafka mode: this partition's co-foundings (`[[epoch, address]…]`) of each pair that changed since
        the last call, for every partition to read (`pair_view`)."""
        pairs = self.pairs
        out = {pair: sorted([e, v] for e, v in pairs.seen.get(pair, ())) for pair in sorted(pairs.published)}
        pairs.published.clear()
        return out

    def trust_changes(self) -> dict[str, list]:
        """Kafka mode: `[epoch, counts, counts before epoch]` of each reporter whose counts changed since the
        last call (the partition's share, published for every partition to sum)."""
        out = {self._by_id[rid].name: self._by_id[rid].trust_record() for rid in sorted(self._counted)}
        self._counted.clear()
        return out

    @property
    def next_slot(self) -> int | None:
        """The first minute of expiry not yet run (saved with the state)."""
        return self._next_slot

    def _ip_record(self, st: _Ip | None) -> list | None:
        if st is None:
            return None
        return [st.until, st.scenario, [[self._by_id[rid].name, *e] for rid, e in st.entries.items()]]

    def mark_changed(self, ips: Iterable[str], reporters: Iterable[str], pairs: Iterable[str] = ()) -> None:
        """Have the next `take_changes` give these records again (their stored rows are stale)."""
        self._dirty_ips.update(ips)
        self._dirty_reporters.update(self._reporter(name).id for name in reporters)
        if self._changed is not None:
            self.pairs.changed.update(tuple(key.split(PAIR_SEP, 1)) for key in pairs)

    def load(self, reporters: dict[str, list], ips: dict[str, list], now: float | None,
             next_slot: int | None = None, pairs: dict[str, list] | None = None) -> None:
        """Rebuild from records `take_changes` gave (reporters first: their cohorts; then the pairs: the
        collusion rule's joins), as of `now` (or of the saved `next_slot`)."""
        if next_slot is not None:
            self._next_slot = next_slot
        elif now is not None:
            self._start(now)
        for name, (epoch, counts, base, signals, refused, label) in sorted(reporters.items()):
            if label:
                self.assign_cohort(name, label)
            r = self._reporter(name)
            r.epoch, r.counts, r.base, r.signals, r.refused = epoch, list(counts), tuple(base), signals, refused
            r.t_epoch = None
        for key, rec in sorted((pairs or {}).items()):
            pair = tuple(key.split(PAIR_SEP, 1))
            self.pairs.load(pair, rec)
            if rec[0] is not None:
                a, b = (self._reporter(name).id for name in pair)
                if self._cohort(a) != self._cohort(b):
                    self._union(a, b)
                    self.collusions += 1
        for value, (until, scenario, entries) in ips.items():
            st = self.ips[value] = _Ip()
            st.until, st.scenario = until, scenario
            for name, first, last, behaviour, scen, corroborated in entries:
                st.entries[self._reporter(name).id] = (first, last, self._intern(behaviour), self._intern(scen),
                                                       corroborated)
            self._schedule(value, st)

    def snapshot(self) -> dict:
        """The whole state but the cohorts (central rebuilds those from its registrations), as JSON data."""
        return {"reporters": {r.name: [*r.record(), None if r.burst_start == float("-inf") else r.burst_start,
                                       r.burst_count] for r in self._by_id},
                "ips": {v: self._ip_record(st) for v, st in self.ips.items()}, "next_slot": self._next_slot,
                "epoch": self._epoch, "received": self.received, "refused": dict(self.refused),
                "pairs": {PAIR_SEP.join(p): self.pairs.record(p) for p in self.pairs.seen.keys() | self.pairs.joined},
                "joined": self._joined}

    def restore(self, snap: dict) -> None:
        """Take the state of a `snapshot` (after the registrations it followed were replayed)."""
        reporters = snap["reporters"]
        self.load({name: rec[:6] for name, rec in reporters.items()}, snap["ips"], None, snap["next_slot"],
                  snap.get("pairs"))
        for name, rec in reporters.items():
            r = self.reporters[name]
            r.burst_start = float("-inf") if rec[6] is None else rec[6]
            r.burst_count = rec[7]
        self._epoch, self.received = snap["epoch"], snap["received"]
        self._joined = snap.get("joined", self._epoch)
        self.refused = Counter(snap["refused"])

    # ------------------------------------------------------------------ reading
    def listed(self) -> dict[str, tuple[str, float]]:
        """Every listed address: (scenario, until)."""
        return {v: (st.scenario, st.until) for v, st in self.ips.items() if st.until}

    def explain(self, value: str, now: float) -> dict:
        """Why `value` is or is not listed: the rule that decided and every report of the window."""
        rules = self.rules
        st = self.ips.get(value)
        reporters = []
        for rid, e in sorted(st.entries.items(), key=lambda kv: kv[1][0]) if st else ():
            r = self._by_id[rid]
            t = self._trust(r)
            reporters.append({"reporter": r.name, "cohort": self._by_id[self._cohort(rid)].name,
                              "trust": round(t, 3), "scenario": e[3], "behaviour": e[2], "first_seen": e[0],
                              "last_seen": e[1], "corroborated": e[4],
                              "counted": t >= rules.min_trust and e[1] > now - rules.window})
        out = {"value": value, "listed": bool(st and st.until), "until": st.until if st and st.until else None,
               "scenario": st.scenario if st else "", "reporters": reporters}
        good = self.known_good.which(value) if self.known_good.contains(value) else None
        if self.known_good.contains(value):
            label = f"{good.source} {good.network} {good.label}".strip() if good else "not an address"
            out["rule"] = f"known-good: never listed ({label})"
            return out
        support = self._support(st, now) if st else {}
        need = f"{rules.min_reporters} independent reporters with trust >= {rules.min_trust:g} and a trust sum " \
               f">= {rules.min_score:g} for one behaviour within {rules.window:g}s"
        counts = {b: f"{len(per)} cohort(s), trust sum {sum(per.values()):.2f}" for b, per in support.items()}
        held = self._holds(support)
        if held is not None:
            out["rule"] = f"consensus: {held}: {counts[held]} (needs {need})"
        elif out["listed"]:
            out["rule"] = f"consensus held earlier; decays at `until` unless it holds again (needs {need})"
        else:
            seen = "; ".join(f"{b}: {c}" for b, c in sorted(counts.items())) or "no counted report"
            out["rule"] = f"no consensus: {seen} (needs {need})"
        return out

    def status(self) -> dict:
        rules = self.rules
        trusted = sum(1 for r in self._by_id if self._trust(r) >= rules.min_trust)
        cohorts = len({self._cohort(r.id) for r in self._by_id})
        return {"reporters": len(self._by_id), "trusted_reporters": trusted, "cohorts": cohorts,
                "tracked_addresses": len(self.ips), "listed": sum(1 for st in self.ips.values() if st.until),
                "signals_received": self.received, "signals_not_counted": dict(sorted(self.refused.items())),
                "collusions": self.collusions}
