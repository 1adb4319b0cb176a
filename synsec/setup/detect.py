"""What runs on a host, read below a root: each entry of synsec.setup.services checked for its binaries, configs,
systemd units and processes (`/proc/PID/comm`), and its log paths looked up. Reads only; synsec.setup.plan
turns the result into a plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from synsec.setup.logpaths import READERS
from synsec.setup.root import Root
from synsec.setup.services import JOURNAL_DIRS, SERVICES, SYSTEMD_BOOTED, UNIT_DIRS, Service

__all__ = ["Host", "Found", "detect", "scan_host"]


@dataclass(frozen=True)
class Host:
    systemd: bool                      # booted with systemd (ROOT/run/systemd/system)
    journal: bool                      # keeps a journal (ROOT/run/systemd/journal or ROOT/var/log/journal)
    groups: frozenset = frozenset()    # group names of ROOT/etc/group
    processes: frozenset = frozenset()  # comm names of ROOT/proc/*/comm


@dataclass(frozen=True)
class Found:
    service: Service
    evidence: tuple[str, ...]          # host paths and "process NAME" that showed it
    running: bool
    units: tuple[str, ...] = ()        # its unit files present on the host
    config_logs: tuple[str, ...] = ()  # log paths its configuration names
    existing_logs: tuple[str, ...] = ()  # CrowdSec's default paths that exist as files (globs kept when they match)
    notes: tuple[str, ...] = field(default=())


def _processes(root: Root) -> frozenset:
    names = set()
    for comm in root.glob("/proc/[0-9]*/comm"):
        text = root.read_text(comm, 256)
        if text:
            names.add(text.strip())
    return frozenset(names)


def _groups(root: Root) -> frozenset:
    text = root.read_text("/etc/group") or ""
    return frozenset(line.split(":", 1)[0] for line in text.splitlines() if ":" in line)


def scan_host(root: Root) -> Host:
    return Host(systemd=root.exists("/" + SYSTEMD_BOOTED), journal=any(root.exists("/" + d) for d in JOURNAL_DIRS),
                groups=_groups(root), processes=_processes(root))


def _find(root: Root, host: Host, svc: Service) -> Found | None:
    present = [f"/{p}" for p in (*svc.binaries, *svc.configs) if root.exists(f"/{p}")]
    units = tuple(u for u in svc.units if any(root.exists(f"/{d}/{u}") for d in UNIT_DIRS))
    running = [p for p in svc.processes if p in host.processes]
    evidence = tuple(present + [f"unit {u}" for u in units] + [f"process {p}" for p in running])
    if not evidence:
        return None
    config_logs: list[str] = []
    notes: list[str] = []
    configs = [f"/{c}" for c in svc.configs if root.is_file(f"/{c}")]
    if svc.config_logs and configs:
        config_logs, notes = READERS[svc.config_logs](root, configs[0])
    existing = [p for p in svc.log_files if root.files(p)]
    return Found(svc, evidence, bool(running), units, tuple(config_logs), tuple(existing), tuple(notes))


def detect(root: Root) -> tuple[Host, list[Found]]:
    """The host's facts and the services found on it, in the order of SERVICES."""
    host = scan_host(root)
    return host, [f for f in (_find(root, host, s) for s in SERVICES) if f is not None]
