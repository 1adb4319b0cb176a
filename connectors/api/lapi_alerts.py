"""Stored alerts in CrowdSec's `models.Alert` shape, for the clients that log in as machines (CrowdSec's agents
and `cscli alerts`, Go clients that decode strict types): an integer `id` (the store's row number) with
synsec's id as `uuid`, events' meta and the alert's as `[{key, value}]` lists, labels as a list, the source's
country as `cn`, and the alert's decisions with their remaining duration. ccscli (machine keys) reads synsec's
own shape, the one `ccscli alerts -o json` prints from the store."""

from __future__ import annotations

from synsec.engine.model import format_duration, format_ts

__all__ = ["lapi_alert"]


def _pairs(meta) -> list[dict]:
    items = meta.items() if isinstance(meta, dict) else []
    return [{"key": str(k), "value": v if isinstance(v, str) else str(v)} for k, v in items]


def _decision(row: dict, now: float) -> dict:
    until = row["until"] if isinstance(row["until"], (int, float)) else now
    return {"id": row["num"] or 0, "origin": row["origin"] or "", "type": row["type"] or "",
            "scope": row["scope"] or "", "value": row["value"] or "", "scenario": row["scenario"] or "",
            "duration": format_duration(min(until - now, 10 * 365 * 86400.0)),
            "until": format_ts(min(until, now + 10 * 365 * 86400.0)), "simulated": bool(row["simulated"])}


def lapi_alert(num: int, stored_at: float | None, body: dict, decisions: list[dict], now: float) -> dict:
    """One stored alert (`Store.alert_rows`: row number, time stored, body) with its decision rows."""
    src = body.get("source") or {}
    labels = body.get("labels")
    return {
        "id": num, "uuid": body.get("id", ""), "machine_id": body.get("machine_id", ""),
        "created_at": format_ts(stored_at or 0.0), "scenario": body.get("scenario", ""),
        "scenario_hash": body.get("scenario_hash", ""), "scenario_version": body.get("scenario_version", ""),
        "message": body.get("message", ""), "events_count": body.get("events_count", 0),
        "start_at": body.get("start_at", ""), "stop_at": body.get("stop_at", ""),
        "capacity": body.get("capacity", 0), "leakspeed": body.get("leakspeed", ""),
        "simulated": bool(body.get("simulated")), "remediation": bool(body.get("remediation")),
        "events": [{"timestamp": e.get("timestamp", ""), "meta": _pairs(e.get("meta"))}
                   for e in body.get("events") or []],
        "decisions": [_decision(d, now) for d in decisions],
        "source": {"scope": src.get("scope", ""), "value": src.get("value", ""), "ip": src.get("ip", ""),
                   "range": src.get("range", ""), "as_number": src.get("as_number", ""),
                   "as_name": src.get("as_name", ""), "cn": src.get("country", ""), "latitude": 0,
                   "longitude": 0},
        "meta": [],
        "labels": list(labels) if isinstance(labels, dict) and labels else None,
    }
