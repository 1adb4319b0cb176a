"""The setup plan, computed from what synsec.setup.detect found (pure: no I/O): the collections to install and one
acquisition document per service, in CrowdSec's `acquis.yaml` format.

A service's logs are, first found first: the paths its configuration names; CrowdSec's default paths that exist;
its journal (`source: journalctl`, `journalctl_filter: [_SYSTEMD_UNIT=<unit>]`) when it logs to journald and the
host keeps one; else CrowdSec's default paths, watched until they appear (not for the OS entry, whose journal is
read per service). A path or journal filter is read by the first service that claims it only, so no line is
read twice (postfix and dovecot share mail.log).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import yaml

from synsec.setup.detect import Found, Host
from synsec.setup.services import JOURNAL_TYPE

__all__ = ["Source", "Plan", "make_plan", "render_acquis"]


@dataclass(frozen=True)
class Source:
    service: str
    kind: str                              # "file" | "journalctl" | "syslog"
    log_type: str                          # labels.type
    paths: tuple[str, ...] = ()            # filenames (file)
    filters: tuple[str, ...] = ()          # journalctl_filter (journalctl)
    why: str = ""                          # where the paths came from
    listen: tuple = ()                     # (listen_addr, listen_port) (syslog)

    def document(self) -> dict:
        """The acquisition document, as CrowdSec writes it."""
        doc: dict = {"source": self.kind}
        if self.kind == "file":
            doc["filenames"] = list(self.paths)
        elif self.kind == "syslog":
            doc["listen_addr"], doc["listen_port"] = self.listen
        else:
            doc["journalctl_filter"] = list(self.filters)
        doc["labels"] = {"type": self.log_type}
        return doc


@dataclass(frozen=True)
class Plan:
    found: tuple[Found, ...]
    collections: tuple[str, ...]
    sources: tuple[Source, ...]
    notes: tuple[str, ...] = field(default=())

    def keep(self, collections) -> "Plan":
        """The plan without the services whose collections are not all in `collections` (answers to "install?")."""
        chosen = set(collections)
        found = tuple(f for f in self.found if set(f.service.collections) <= chosen)
        names = {f.service.name for f in found}
        return replace(self, found=found, collections=tuple(c for c in self.collections if c in chosen),
                       sources=tuple(s for s in self.sources if s.service in names
                                     or (s.kind == "syslog" and "crowdsecurity/linux" in chosen)))

    def to_dict(self) -> dict:
        return {"services": [{"name": f.service.name, "running": f.running, "evidence": list(f.evidence),
                              "collections": list(f.service.collections)} for f in self.found],
                "collections": list(self.collections),
                "acquisition": [{"service": s.service, **s.document(), "from": s.why} for s in self.sources],
                "notes": list(self.notes)}


def _source(f: Found, host: Host, notes: list) -> Source | None:
    svc = f.service
    if f.config_logs:
        return Source(svc.name, "file", svc.log_type, f.config_logs, why="its configuration")
    if f.existing_logs:
        return Source(svc.name, "file", svc.log_type, f.existing_logs, why="default paths that exist")
    units = list(svc.journal_units) or [u for u in f.units if u.endswith(".service")]
    if svc.journal and host.journal and f.units and units:
        return Source(svc.name, "journalctl", JOURNAL_TYPE, filters=tuple(f"_SYSTEMD_UNIT={u}" for u in units),
                      why="the journal (no log file)")
    if svc.base:
        notes.append(f"{svc.name}: none of {', '.join(svc.log_files)} exists; no acquisition for it")
        return None
    notes.append(f"{svc.name}: none of {', '.join(svc.log_files)} exists yet; they are watched")
    return Source(svc.name, "file", svc.log_type, svc.log_files, why="default paths (none exists yet)")


def make_plan(host: Host, found: list[Found], syslog_listen: tuple | None = None) -> Plan:
    notes: list[str] = [n for f in found for n in f.notes]
    collections: list[str] = []
    sources: list[Source] = []
    claimed: set[str] = set()
    for f in found:
        collections += [c for c in f.service.collections if c not in collections]
        src = _source(f, host, notes)
        if src is None:
            continue
        mine = src.paths if src.kind == "file" else src.filters
        fresh = tuple(p for p in mine if p not in claimed)
        for p in mine:
            if p in claimed:
                notes.append(f"{f.service.name}: {p} is already read by another source; not read twice")
        claimed.update(fresh)
        if not fresh:
            continue
        sources.append(replace(src, paths=fresh) if src.kind == "file" else replace(src, filters=fresh))
    if syslog_listen:          # forwarded syslog: read by the parsers crowdsecurity/linux installs (syslog-logs)
        sources.append(Source("syslog", "syslog", "syslog", listen=tuple(syslog_listen),
                              why="--syslog-listen (senders' logs)"))
        if "crowdsecurity/linux" not in collections:
            collections.insert(0, "crowdsecurity/linux")
    return Plan(tuple(found), tuple(collections), tuple(sources), tuple(notes))


def render_acquis(plan: Plan) -> str:
    """acquis.yaml: one document per service, each with a comment saying what it is for."""
    parts = ["# Written by `synsec setup` (docs/setup.md): one data source per detected service.\n"]
    for s in plan.sources:
        body = yaml.safe_dump(s.document(), sort_keys=False, default_flow_style=False)
        parts.append(f"---\n# {s.service}: {s.why}\n{body}")
    return "".join(parts)
