"""What `CrowdsecCTI(ip)` returns: CrowdSec's CTI object (`cticlient.SmokeItem`), built from the local blocklist.

Field and method names are CrowdSec's Go ones, so hub expressions read it unchanged
(`CrowdsecCTI(evt.Meta.source_ip).GetBehaviors()`, `.IsPartOfCommunityBlocklist()`, `.Classifications…`).
CrowdSec asks its CTI API; synsec answers from the community blocklist the installation pulled: an address it
lists has the `community-blocklist` classification, reputation `malicious`, the listing scenarios as attack
details and their behaviours; any other address gets the empty item CrowdSec returns for an unknown IP. Pure:
the caller passes what it knows about the address (`BlocklistEntry`) and the times as numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from synsec.engine.model import format_ts

__all__ = ["SmokeItem", "EMPTY", "CTIBehaviour", "CTIClassification", "CTIClassifications", "CTIAttackDetails",
           "CTIHistory", "BlocklistEntry", "smoke_item", "behaviour_of", "SMOKE_METHODS"]

COMMUNITY_BLOCKLIST = "community-blocklist"


@dataclass(frozen=True, slots=True)
class CTIBehaviour:
    Name: str
    Label: str = ""
    Description: str = ""


@dataclass(frozen=True, slots=True)
class CTIClassification:
    Name: str
    Label: str = ""
    Description: str = ""


@dataclass(frozen=True, slots=True)
class CTIClassifications:
    FalsePositives: list = field(default_factory=list)
    Classifications: list = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CTIAttackDetails:
    Name: str
    Label: str = ""
    Description: str = ""
    References: list = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CTIHistory:
    FirstSeen: str | None = None
    LastSeen: str | None = None
    FullAge: int = 0
    DaysAge: int = 0


@dataclass(frozen=True, slots=True)
class SmokeItem:
    """CrowdSec's `cticlient.SmokeItem` (the fields hub content may read; scores stay zero)."""

    Ip: str = ""
    IpRange: str | None = None
    IpRangeScore: int = 0
    AsName: str | None = None
    AsNum: int | None = None
    ReverseDNS: str | None = None
    Reputation: str = "unknown"
    Behaviours: list = field(default_factory=list)
    History: CTIHistory = field(default_factory=CTIHistory)
    Classifications: CTIClassifications = field(default_factory=CTIClassifications)
    AttackDetails: list = field(default_factory=list)
    TargetCountries: dict = field(default_factory=dict)
    BackgroundNoiseScore: int | None = None
    References: list = field(default_factory=list)

    def GetAttackDetails(self) -> list:
        return [a.Name for a in self.AttackDetails]

    def GetBehaviours(self) -> list:
        return [b.Name for b in self.Behaviours]

    def GetBehaviors(self) -> list:
        """The spelling of CrowdSec's documentation (the Go method is `GetBehaviours`)."""
        return self.GetBehaviours()

    def GetClassifications(self) -> list:
        return [c.Name for c in self.Classifications.Classifications]

    def GetFalsePositives(self) -> list:
        return [c.Name for c in self.Classifications.FalsePositives]

    def IsFalsePositive(self) -> bool:
        return bool(self.Classifications.FalsePositives)

    def IsPartOfCommunityBlocklist(self) -> bool:
        return COMMUNITY_BLOCKLIST in self.GetClassifications()

    def GetMaliciousnessScore(self) -> float:
        """1 when the community blocklist lists the address (CrowdSec's rule), else 0 (no activity scores)."""
        return 1.0 if self.IsPartOfCommunityBlocklist() else 0.0

    def GetBackgroundNoiseScore(self) -> int:
        return self.BackgroundNoiseScore or 0

    def GetReputation(self) -> str:
        return self.Reputation


# name -> (result type, argument count), for the expr compiler's method allowlist (typeinfo)
SMOKE_METHODS = {"GetAttackDetails": ("list", 0), "GetBehaviours": ("list", 0), "GetBehaviors": ("list", 0),
                 "GetClassifications": ("list", 0), "GetFalsePositives": ("list", 0),
                 "IsFalsePositive": ("bool", 0), "IsPartOfCommunityBlocklist": ("bool", 0),
                 "GetMaliciousnessScore": ("float", 0), "GetBackgroundNoiseScore": ("int", 0),
                 "GetReputation": ("str", 0)}


@dataclass(frozen=True, slots=True)
class BlocklistEntry:
    """One listing of an address: the scenario it was listed for, when it was first and last pulled."""

    scenario: str
    first_seen: float
    last_seen: float
    range: str = ""                 # the listed range when the entry is a Range


def behaviour_of(labels: Mapping) -> tuple[str, str]:
    """(behaviour name, label) of a scenario from its labels: `behavior` (newer hub) or `service:type`."""
    name = labels.get("behavior") if isinstance(labels.get("behavior"), str) else ""
    if not name and isinstance(labels.get("service"), str) and isinstance(labels.get("type"), str):
        name = f"{labels['service']}:{labels['type']}"
    label = labels.get("label") if isinstance(labels.get("label"), str) else ""
    return name, label


EMPTY = SmokeItem()         # an unknown address: one shared item (expressions cannot change a value)


def smoke_item(ip: str, entries: Sequence[BlocklistEntry], scenario_labels: Mapping[str, Mapping]) -> SmokeItem:
    """The SmokeItem of `ip` given its blocklist entries (none: the empty item of an unknown address)."""
    if not entries:
        return EMPTY
    names = sorted({e.scenario for e in entries})
    details, behaviours = [], {}
    for name in names:
        labels = scenario_labels.get(name) or {}
        behaviour, label = behaviour_of(labels)
        details.append(CTIAttackDetails(Name=name, Label=label or name))
        if behaviour:
            behaviours.setdefault(behaviour, CTIBehaviour(Name=behaviour, Label=label))
    first = min(e.first_seen for e in entries)
    last = max(e.last_seen for e in entries)
    days = int(max(0.0, last - first) // 86400)
    ranges = [e.range for e in entries if e.range]
    return SmokeItem(
        Ip=ip, IpRange=ranges[0] if ranges else None, Reputation="malicious",
        Behaviours=list(behaviours.values()), AttackDetails=details,
        History=CTIHistory(FirstSeen=format_ts(first), LastSeen=format_ts(last), FullAge=days + 1, DaysAge=days + 1),
        Classifications=CTIClassifications(Classifications=[
            CTIClassification(Name=COMMUNITY_BLOCKLIST, Label="Community Blocklist",
                              Description="IP belongs to the CrowdSec Community Blocklist")]))
