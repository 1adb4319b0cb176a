"""The firewall bouncer: keeps kernel sets in sync with the active decisions (nftables, or ipset + iptables).

Backends render text scripts and never run anything themselves; `FirewallBouncer` batches the commands of one
follower poll and applies them in one call (`nft -f -` or `ipset -exist restore`), through `runner` — so a
caller can prefix the command (`ip netns exec NS`), print it (`--dry-run`) or test the text.

nftables: table `inet synsec`, sets `blocklist4`/`blocklist6` (addresses, `flags timeout`) and
`rangelist4`/`rangelist6` (prefixes, `flags interval, timeout`), a chain hooked on input at priority
`filter - 10` dropping any source in them. Each element carries the decision's remaining time as its timeout,
so the kernel expires it even if the bouncer is down. Changes use the idempotent idiom `add` (no-op when
present) then `delete` then `add … timeout`, so a replaced or already-expired element never fails the batch.
ipset: `hash:net` sets `synsec-blocklist` (inet) and `synsec-blocklist6` (inet6) with per-element timeouts;
`-exist` makes add refresh the timeout and del ignore a missing element. Only Ip and Range scopes of the chosen
decision types (default: ban) reach the firewall.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from synsec.engine.model import Decision

__all__ = ["NftablesBackend", "IpsetBackend", "FirewallBouncer", "BACKENDS", "element_of", "subprocess_runner"]

log = logging.getLogger(__name__)

IPSET_MAX_TIMEOUT = 2_147_483          # seconds: ipset's largest per-element timeout


def element_of(scope: str, value: str) -> tuple[int, bool, str] | None:
    """(IP version, is_range, canonical text) for an Ip or Range decision; None for other scopes or bad values."""
    try:
        if scope.lower() == "ip":
            ip = ipaddress.ip_address(value)
            return ip.version, False, str(ip)
        if scope.lower() == "range":
            net = ipaddress.ip_network(value, strict=False)
            return net.version, True, str(net)
    except ValueError:
        return None
    return None


def _timeout(d: Decision, now: float, cap: int | None = None) -> int:
    seconds = max(1, math.ceil(d.until - now))
    return min(seconds, cap) if cap else seconds


@dataclass(frozen=True)
class NftablesBackend:
    table: str = "synsec"
    family: str = "inet"
    chain: str = "input"
    priority: str = "filter - 10"
    name = "nftables"
    disjoint_ranges = True     # an interval set refuses overlapping elements: install only outermost ranges

    def command(self) -> list[str]:
        return ["nft", "-f", "-"]

    def set_name(self, version: int, is_range: bool) -> str:
        return f"{'rangelist' if is_range else 'blocklist'}{version}"

    def setup(self) -> list[str]:
        """Create (or reset) the table, the four sets and the drop rules; existing elements are flushed."""
        t = f"{self.family} {self.table}"
        lines = [f"add table {t}"]
        for version, addr in ((4, "ipv4_addr"), (6, "ipv6_addr")):
            for is_range in (False, True):
                flags = "interval, timeout" if is_range else "timeout"
                name = self.set_name(version, is_range)
                lines.append(f"add set {t} {name} {{ type {addr}; flags {flags}; }}")
                lines.append(f"flush set {t} {name}")
        lines.append(f"add chain {t} {self.chain} {{ type filter hook input priority {self.priority}; "
                     f"policy accept; }}")
        lines.append(f"flush chain {t} {self.chain}")
        for version, proto in ((4, "ip"), (6, "ip6")):
            for is_range in (False, True):
                lines.append(f"add rule {t} {self.chain} {proto} saddr @{self.set_name(version, is_range)} "
                             f"counter drop")
        return lines

    def teardown(self) -> list[str]:
        return [f"delete table {self.family} {self.table}"]

    def add(self, d: Decision, now: float) -> list[str]:
        el = element_of(d.scope, d.value)
        if el is None:
            return []
        where = f"{self.family} {self.table} {self.set_name(el[0], el[1])}"
        return [f"add element {where} {{ {el[2]} }}", f"delete element {where} {{ {el[2]} }}",
                f"add element {where} {{ {el[2]} timeout {_timeout(d, now)}s }}"]

    def delete(self, scope: str, value: str) -> list[str]:
        el = element_of(scope, value)
        if el is None:
            return []
        where = f"{self.family} {self.table} {self.set_name(el[0], el[1])}"
        return [f"add element {where} {{ {el[2]} }}", f"delete element {where} {{ {el[2]} }}"]

    def list_command(self, version: int, is_range: bool) -> list[str]:
        return ["nft", "list", "set", self.family, self.table, self.set_name(version, is_range)]


@dataclass(frozen=True)
class IpsetBackend:
    set4: str = "synsec-blocklist"
    set6: str = "synsec-blocklist6"
    name = "ipset"
    disjoint_ranges = False    # hash:net holds nested prefixes

    def command(self) -> list[str]:
        return ["ipset", "-exist", "restore"]

    def set_name(self, version: int, is_range: bool = False) -> str:
        return self.set4 if version == 4 else self.set6

    def setup(self) -> list[str]:
        return [f"create {self.set4} hash:net family inet timeout 0", f"flush {self.set4}",
                f"create {self.set6} hash:net family inet6 timeout 0", f"flush {self.set6}"]

    def teardown(self) -> list[str]:
        return [f"destroy {self.set4}", f"destroy {self.set6}"]

    def iptables_rules(self) -> list[list[str]]:
        """The iptables/ip6tables rules that make the sets drop traffic (documented; applied by the admin)."""
        return [["iptables", "-I", "INPUT", "-m", "set", "--match-set", self.set4, "src", "-j", "DROP"],
                ["ip6tables", "-I", "INPUT", "-m", "set", "--match-set", self.set6, "src", "-j", "DROP"]]

    def add(self, d: Decision, now: float) -> list[str]:
        el = element_of(d.scope, d.value)
        if el is None:
            return []
        return [f"add {self.set_name(el[0])} {el[2]} timeout {_timeout(d, now, IPSET_MAX_TIMEOUT)}"]

    def delete(self, scope: str, value: str) -> list[str]:
        el = element_of(scope, value)
        if el is None:
            return []
        return [f"del {self.set_name(el[0])} {el[2]}"]

    def list_command(self, version: int, is_range: bool = False) -> list[str]:
        return ["ipset", "list", self.set_name(version)]


BACKENDS = {"nftables": NftablesBackend, "ipset": IpsetBackend}

Runner = Callable[[list[str], str], None]


def subprocess_runner(prefix: Sequence[str] = ()) -> Runner:
    """Run `prefix + command` with the script on stdin; a non-zero exit raises RuntimeError with stderr."""
    def run(command: list[str], script: str) -> None:
        res = subprocess.run([*prefix, *command], input=script, capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {res.returncode}: {res.stderr.strip()}")
    return run


class FirewallBouncer:
    """Wire a backend to a DecisionFollower: `follower.on_add = fw.on_add` etc. (see `attach`)."""

    def __init__(self, backend, runner: Runner, types: Sequence[str] | None = ("ban",),
                 clock: Callable[[], float] = time.time):
        self.backend = backend
        self.runner = runner
        self.types = {t.lower() for t in types} if types else None
        self.clock = clock
        self.pending: list[list[str]] = []
        self.stats = {"applied": 0, "failed": 0, "ignored": 0, "batches": 0}
        self.ranges = _Ranges() if getattr(backend, "disjoint_ranges", False) else None

    def attach(self, follower) -> None:
        follower.on_add, follower.on_delete, follower.on_batch = self.on_add, self.on_delete, self.flush

    def setup(self) -> None:
        self.runner(self.backend.command(), _script(self.backend.setup()))

    def teardown(self) -> None:
        self.runner(self.backend.command(), _script(self.backend.teardown()))

    def on_add(self, d: Decision) -> None:
        if self.types is not None and d.type.lower() not in self.types:
            self.stats["ignored"] += 1
            return
        if self.ranges is not None and d.scope.lower() == "range" and element_of(d.scope, d.value):
            installs, removes = self.ranges.add(d)
            for net in removes:
                self._queue(self.backend.delete("Range", net))
            for rd in installs:
                self._queue(self.backend.add(rd, self.clock()))
            return
        self._queue(self.backend.add(d, self.clock()))

    def on_delete(self, scope: str, value: str, d: Decision | None) -> None:
        if d is not None and self.types is not None and d.type.lower() not in self.types:
            return
        if self.ranges is not None and scope.lower() == "range" and element_of(scope, value):
            installed, installs = self.ranges.delete(value)
            if installed:
                self._queue(self.backend.delete(scope, value))
            for rd in installs:
                self._queue(self.backend.add(rd, self.clock()))
            return
        self._queue(self.backend.delete(scope, value))

    def _queue(self, lines: list[str]) -> None:
        if lines:
            self.pending.append(lines)
        else:
            self.stats["ignored"] += 1

    def flush(self) -> None:
        """Apply the queued changes in one call; when that fails, each change alone (a bad one is logged)."""
        if not self.pending:
            return
        groups, self.pending = self.pending, []
        self.stats["batches"] += 1
        try:
            self.runner(self.backend.command(), _script(line for g in groups for line in g))
            self.stats["applied"] += len(groups)
            return
        except Exception as err:  # noqa: BLE001
            log.warning("firewall batch of %d change(s) failed (%s); applying them one by one", len(groups), err)
        for group in groups:
            try:
                self.runner(self.backend.command(), _script(group))
                self.stats["applied"] += 1
            except Exception as err:  # noqa: BLE001
                self.stats["failed"] += 1
                log.error("firewall change failed: %s (%s)", "; ".join(group), err)


class _Ranges:
    """Active Range decisions and which of them are installed: only those no other active range covers
    (an nftables interval set rejects overlaps). Linear scans: range decisions are few."""

    def __init__(self):
        self.active: dict[str, tuple[ipaddress._BaseNetwork, Decision]] = {}
        self.installed: set[str] = set()

    def _covered(self, net, key: str) -> bool:
        return any(k != key and other.version == net.version and net.subnet_of(other)
                   and (other != net) for k, (other, _) in self.active.items())

    def add(self, d: Decision) -> tuple[list[Decision], list[str]]:
        """(decisions to install, installed ranges to remove) after `d` becomes active."""
        net = ipaddress.ip_network(d.value, strict=False)
        key = str(net)
        self.active[key] = (net, d)
        if self._covered(net, key):
            removes = [key] if key in self.installed else []
            self.installed.discard(key)
            return [], removes
        removes = [k for k in self.installed if k != key and self.active[k][0].version == net.version
                   and self.active[k][0].subnet_of(net)]
        self.installed.difference_update(removes)
        self.installed.add(key)
        return [d], removes

    def delete(self, value: str) -> tuple[bool, list[Decision]]:
        """(whether `value` was installed, decisions it covered that must be installed now)."""
        key = str(ipaddress.ip_network(value, strict=False))
        entry = self.active.pop(key, None)
        was = key in self.installed
        self.installed.discard(key)
        if entry is None or not was:
            return was, []
        net = entry[0]
        freed = [k for k, (other, _) in self.active.items() if other.version == net.version
                 and other.subnet_of(net) and not self._covered(other, k)]
        self.installed.update(freed)
        return was, [self.active[k][1] for k in freed]


def _script(lines) -> str:
    return "".join(f"{line}\n" for line in lines)
