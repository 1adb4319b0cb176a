"""What differs between the Central API versions `synsec central` serves, as thin adapters over one set of
handlers (connectors/central/server.py): v2 (CrowdSec 1.4.6) and v3 (current CrowdSec,
`pkg/modelscapi/centralapi_swagger.yaml`).

- signals: v3 also takes `alert_id`, `kind`, `context` and `decisions` (connectors/central/signals.py);
- `GET decisions/stream`: v2 answers flat decisions `{new: [decision], deleted: [decision]}`; v3 groups them —
  `new` by scenario and scope (`{scenario, scope, decisions: [{value, duration}]}`), `deleted` by scope
  (`{scope, decisions: [value]}`) — and adds `links` (`blocklists`, `allowlists`: central has no other list,
  so both are empty; left out when `additional_pull=false`); v3 takes `community_pull` (false: no entries, and
  the watcher's position does not move), `additional_pull` and `origins`;
- metrics: v2 answers 201 (what 1.4.6 was tested with), v3 200 (the swagger's); v3 adds `usage-metrics`.
The bodies of metrics and usage metrics are checked here (the same shape for both versions).
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.api.inputs import InputError

__all__ = ["ApiVersion", "VERSIONS", "flag", "parse_metrics", "parse_usage_metrics", "stream_filters"]

_MAX_ITEMS = 10_000
_MAX_TEXT = 256
_FILTERS = ("scopes", "scenarios_containing", "scenarios_not_containing", "origins")


@dataclass(frozen=True)
class ApiVersion:
    name: str                       # the path prefix
    stream_params: frozenset[str]
    metrics_status: int
    grouped: bool                   # v3's decisions/stream shape

    def stream_body(self, new: list[dict], deleted: list[dict], links: bool) -> dict:
        """The decisions/stream answer from flat decisions (`_decision` of server.py)."""
        if not self.grouped:
            return {"new": new, "deleted": deleted}
        groups: dict[tuple[str, str], list[dict]] = {}
        for d in new:
            groups.setdefault((d["scenario"], d["scope"]), []).append({"value": d["value"],
                                                                       "duration": d["duration"]})
        gone: dict[str, list[str]] = {}
        for d in deleted:
            gone.setdefault(d["scope"], []).append(d["value"])
        body = {"new": [{"scenario": sc, "scope": scope, "decisions": ds} for (sc, scope), ds in groups.items()],
                "deleted": [{"scope": scope, "decisions": vs} for scope, vs in gone.items()]}
        if links:
            body["links"] = {"blocklists": [], "allowlists": []}
        return body


VERSIONS = (
    ApiVersion("v2", frozenset({"startup", *_FILTERS} - {"origins"}), 201, False),
    ApiVersion("v3", frozenset({"startup", "community_pull", "additional_pull", *_FILTERS}), 200, True),
)


def flag(query, name: str, default: bool) -> bool:
    """A boolean query parameter (`true`/`false`, any case); InputError naming it otherwise."""
    text = query.get(name)
    if text is None:
        return default
    if text.lower() not in ("true", "false"):
        raise InputError(f"{name} must be true or false")
    return text.lower() == "true"


def stream_filters(query):
    """A predicate over flat decisions from `scopes`, `scenarios_containing`, `scenarios_not_containing` and
    `origins` (comma-separated, case-insensitive, CrowdSec's LAPI semantics)."""
    lists = {}
    for name in _FILTERS:
        text = query.get(name, "")
        if len(text) > 4096:
            raise InputError(f"{name}: longer than 4096 characters")
        lists[name] = [x.strip().lower() for x in text.split(",") if x.strip()]
    scopes, having, lacking, origins = (lists[n] for n in _FILTERS)

    def keep(d: dict) -> bool:
        scenario = d["scenario"].lower()
        return ((not scopes or d["scope"].lower() in scopes)
                and (not having or any(x in scenario for x in having))
                and not any(x in scenario for x in lacking)
                and (not origins or d["origin"].lower() in origins))
    return keep


def _text_fields(item, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(item, dict):
        raise InputError(f"{where} must be an object")
    unknown = sorted(set(item) - set(keys))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown[:5]}")
    for key in keys:
        value = item.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > _MAX_TEXT):
            raise InputError(f"{where}.{key} must be a string of at most {_MAX_TEXT} characters")


def _list(body: dict, key: str) -> list:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > _MAX_ITEMS:
        raise InputError(f"{key} must be a list of at most {_MAX_ITEMS} items")
    return value


def parse_metrics(body) -> tuple[int, int]:
    """`POST metrics` (CrowdSec's `models.Metrics`: apil_version, bouncers, machines): (machines, bouncers)."""
    if not isinstance(body, dict):
        raise InputError("body must be a JSON object")
    _text_fields({k: v for k, v in body.items() if k not in ("bouncers", "machines")}, ("apil_version",), "body")
    bouncers, machines = _list(body, "bouncers"), _list(body, "machines")
    for i, b in enumerate(bouncers):
        _text_fields(b, ("custom_name", "last_pull", "name", "version"), f"bouncers[{i}]")
    for i, m in enumerate(machines):
        _text_fields(m, ("last_push", "last_update", "name", "version"), f"machines[{i}]")
    return len(machines), len(bouncers)


def parse_usage_metrics(body) -> int:
    """`POST /v3/usage-metrics` (CrowdSec's `models.AllMetrics`): how many components reported; shape only."""
    if not isinstance(body, dict):
        raise InputError("body must be a JSON object")
    unknown = sorted(set(body) - {"lapi", "log_processors", "remediation_components"})
    if unknown:
        raise InputError(f"unknown key(s) {unknown[:5]}")
    if body.get("lapi") is not None and not isinstance(body["lapi"], dict):
        raise InputError("lapi must be an object")
    count = 0
    for key in ("log_processors", "remediation_components"):
        items = _list(body, key)
        if not all(isinstance(x, dict) for x in items):
            raise InputError(f"{key} must be a list of objects")
        count += len(items)
    return count + (body.get("lapi") is not None)
