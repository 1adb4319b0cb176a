"""Which stored alerts a `GET`/`DELETE /v1/alerts` (or `ccscli alerts`) means: CrowdSec's alert filters as SQL
over the store's `alerts` table, plus an address-range test done in Python (`in_network`)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields

__all__ = ["AlertFilter"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AlertFilter:
    """Every field is optional; None (or an empty string) does not restrict. Times are epoch seconds.

    `value`: the source value (with `scope`, case-insensitive); `ip`: an address, matching an alert whose
    source is it; `network`: alerts whose source address (or range) lies inside it; `since`/`until`: the
    alert's start is at or after / at or before; `simulated=False` leaves simulated alerts out;
    `has_active_decision`, `decision_type` and `origin`: through the alert's decisions (active at `now`)."""

    alert_id: str | None = None
    scope: str | None = None
    value: str | None = None
    scenario: str | None = None
    ip: str | None = None
    network: Network | None = None
    since: float | None = None
    until: float | None = None
    simulated: bool | None = None
    has_active_decision: bool | None = None
    decision_type: str | None = None
    origin: str | None = None
    machine_id: str | None = None
    now: float = 0.0

    def empty(self) -> bool:
        return all(getattr(self, f.name) in (None, "") for f in fields(self) if f.name != "now")

    def sql(self, select: str) -> tuple[str, list]:
        """`select` with this filter's WHERE clause, and its arguments."""
        from synsec.engine.model import format_ts

        where, args = ["1=1"], []
        for col, val in (("id", self.alert_id), ("scenario", self.scenario), ("source_value", self.value),
                         ("machine_id", self.machine_id)):
            if val:
                where.append(f"{col} = ?")
                args.append(val)
        if self.scope:
            where.append("source_scope = ? COLLATE NOCASE")
            args.append(self.scope)
        if self.ip:
            where.append("(source_value = ? OR source_ip = ?)")
            args += [self.ip, self.ip]
        if self.network is not None:
            where.append("lower(source_scope) IN ('ip', 'range')")
        for op, ts in ((">=", self.since), ("<=", self.until)):
            if ts is not None:     # RFC 3339 UTC text, compared to the second
                where.append(f"substr(start_at, 1, 19) {op} ?")
                args.append(format_ts(int(ts))[:19])
        if self.simulated is False:
            where.append("simulated = 0")
        decision = []
        if self.has_active_decision is not None:
            decision.append("d.deleted_at IS NULL AND d.until > ?")
            args.append(self.now)
        for col, val in (("type", self.decision_type), ("origin", self.origin)):
            if val:
                decision.append(f"d.{col} = ?")
                args.append(val)
        if decision:
            exists = f"EXISTS (SELECT 1 FROM decisions d WHERE d.alert_id = alerts.id AND {' AND '.join(decision)})"
            where.append(f"NOT {exists}" if self.has_active_decision is False and len(decision) == 1 else exists)
        return f"{select} WHERE {' AND '.join(where)}", args

    def in_network(self, scope: str | None, value: str | None, ip: str | None) -> bool:
        """Whether a row passes the `network` test (always, without one)."""
        if self.network is None:
            return True
        for text in (ip, value):
            try:
                got = ipaddress.ip_network(text or "", strict=False)
            except ValueError:
                continue
            if got.version == self.network.version and got.subnet_of(self.network):
                return True
        return False
