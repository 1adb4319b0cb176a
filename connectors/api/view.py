"""The interfaces the HTTP layer is written against, so the decisions source can change without touching it.

- `DecisionView`: active decisions with ip/range lookups and a monotonically increasing change sequence.
  `SqliteDecisionView` (single machine, the embedded store) and `TopicDecisionView` (the compacted decisions
  topic, feeding a `DecisionIndex` with `pop_expired` for expiry) implement it.
- `DecisionWriter`: where ccscli's decisions go (`StoreWriter`: the store; `TopicDecisionWriter`: the topic).
- `KeyStore`: bouncer keys (hashed) and each bouncer's last pulled sequence.
- `AlertReader`: alerts for ccscli (list, inspect, delete, counts by scenario).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from connectors.api.model import DecisionRecord, Delta, Target

if TYPE_CHECKING:
    from connectors.api.index import DecisionIndex
    from synsec.store.alert_filter import AlertFilter

__all__ = ["DecisionView", "DecisionWriter", "KeyStore", "AlertReader", "IndexedView"]


@runtime_checkable
class DecisionView(Protocol):
    def refresh(self, now: float, force: bool = False) -> None:
        """Catch up with the source (and log expiries up to `now`). Called before reads; cheap when idle;
        may skip when called again soon unless `force` (the API forces it after its own writes)."""

    def head(self) -> int:
        """The sequence of the latest change seen; a bouncer that has pulled up to it is up to date."""

    def active(self, now: float) -> list[DecisionRecord]:
        """Every decision active at `now` (not simulated)."""

    def by_value(self, scope: str, value: str, now: float) -> list[DecisionRecord]:
        """Active decisions with this scope (case-insensitive) and exact value."""

    def containing(self, target: Target, now: float) -> list[DecisionRecord]:
        """Active Ip/Range decisions whose address interval contains `target` (an `ip=` lookup)."""

    def contained(self, target: Target, now: float) -> list[DecisionRecord]:
        """Active Ip/Range decisions inside `target` (`range=…&contains=false`)."""

    def changes_since(self, seq: int, now: float) -> Delta:
        """Decisions new and ended after `seq`, up to `Delta.head`; `complete=False` when unknown."""

    def recently_ended(self, now: float) -> list[DecisionRecord]:
        """Decisions ended lately, sent as `deleted` with `startup=true` (CrowdSec sends expired ones)."""


class DecisionWriter(Protocol):
    def add_decisions(self, decisions: list, now: float) -> list[int]:
        """Store/publish validated `DecisionInput`s; return their LAPI ids (0 when not known yet)."""

    def delete_decisions(self, filters: dict, now: float) -> int:
        """End matching active decisions (keys: value, scope, type, scenario, origin, num, everything)."""


class KeyStore(Protocol):
    def key_rows(self) -> list[tuple[str, str, str, str]]:
        """(key id, salted key hash, bouncer name, role) for every registered bouncer
        (`synsec.store.bouncers.KeyIndex` checks a key against them)."""

    def ensure_bouncer(self, name: str) -> None:
        """Register a bouncer authenticated by its client certificate, once (its key is random and unused)."""

    def upgrade_key(self, name: str, key: str) -> None:
        """Store a verified key's hash salted, replacing the unsalted one an older synsec wrote."""

    def last_seq(self, name: str) -> int:
        """The change sequence this bouncer last pulled up to (0: never)."""

    def record_pull(self, name: str, *, seq: int, now: float, ip_address: str | None,
                    user_agent: str | None) -> None:
        """Remember a successful stream pull."""


class AlertReader(Protocol):
    def alerts(self, *, scenario: str | None = None, value: str | None = None, limit: int = 0,
               where: "AlertFilter | None" = None) -> list[dict]:
        """Alert bodies, newest first (by scenario and value, or any `AlertFilter`)."""

    def alert(self, alert_id: str) -> dict | None:
        ...

    def lapi_alerts(self, where: "AlertFilter", limit: int, now: float) -> list[dict]:
        """The same alerts in CrowdSec's `models.Alert` shape (`connectors.api.lapi_alerts`), with decisions."""

    def lapi_alert(self, alert_id: str, now: float) -> dict | None:
        """One alert (by id or integer id) in CrowdSec's shape."""

    def alert_counts(self) -> dict[str, int]:
        """{scenario: stored alerts} (the API's /metrics)."""

    def metric_samples(self) -> list:
        """The counter samples `synsec replay` and `synsec run` added (the API's /metrics)."""

    def delete_alerts(self, *, alert_id: str | None = None, scenario: str | None = None,
                      value: str | None = None, where: "AlertFilter | None" = None) -> int:
        """Remove matching alerts (not their decisions); the number removed."""


class IndexedView:
    """The lookups every `DecisionView` serves from its in-memory `DecisionIndex` (`self.index`) with the
    window `self.ended_window` for recently ended decisions; a view adds how the index is fed (`refresh`,
    `changes_since`)."""

    index: "DecisionIndex"
    ended_window: float
    out_of_range: int = 0     # decisions read whose `until` was skipped or clamped (durations.bounded_until)

    def head(self) -> int:
        return self.index.head

    def active(self, now: float) -> list[DecisionRecord]:
        return self.index.active(now)

    def by_value(self, scope: str, value: str, now: float) -> list[DecisionRecord]:
        return self.index.by_value(scope, value, now)

    def containing(self, target: Target, now: float) -> list[DecisionRecord]:
        return self.index.containing(target, now)

    def contained(self, target: Target, now: float) -> list[DecisionRecord]:
        return self.index.contained(target, now)

    def recently_ended(self, now: float) -> list[DecisionRecord]:
        return self.index.recently_ended(now - self.ended_window)
