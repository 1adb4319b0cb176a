"""The dashboard `synsec api` serves at `/ui/` (docs/dashboard.md): one static page (connectors/api/ui/) and
its JSON endpoints under `/ui/api/`, read from the API's own backend (the embedded store or the decisions topic).

The page holds no data; every endpoint needs a machine key (`X-Api-Key`) or a machine's token (`Authorization:
Bearer`), sent by the page's script from its session storage. No cookie is used, so a cross-site form or image
cannot act with the user's credentials (no CSRF), and no CORS header is sent. Every reply carries a strict
Content-Security-Policy: scripts, styles and requests go to this origin only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from importlib.resources import files

from aiohttp import web

from connectors.api.query import QueryError, parse_uint
from connectors.api.replies import json_reply, message
from synsec.engine.errors import SynsecError

__all__ = ["DashboardRoutes", "summarize", "alert_stats", "timeline", "StatsUnavailable", "CSP", "COMMUNITY_ORIGINS",
           "TOP"]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
COMMUNITY_ORIGINS = {"CAPI", "lists"}      # decisions from the community blocklist and its subscribed lists
_STATIC = {"index.html": "text/html", "app.js": "text/javascript", "app.css": "text/css",
           "favicon.svg": "image/svg+xml"}
MAX_ALERTS = 20_000        # newest alerts summarized from the store
TOP = 10
_MAX_QUERY = 200
_STEPS = (60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400)   # seconds per bar of "alerts over time"


class StatsUnavailable(SynsecError):
    """The alert panels' source (ClickHouse) did not answer: a 503 naming it."""


def _epoch(text) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def timeline(counts: list[tuple[float, int]], bars: int = 48, min_step: int = 0) -> dict:
    """(time, alerts) pairs summed per step, the step the smallest of `_STEPS` (at least `min_step`: the
    granularity of the counts) that covers the span in `bars` bars (the longest one, if none does)."""
    if not counts:
        return {"step": max(_STEPS[0], min_step), "points": []}
    lo, hi = min(t for t, _ in counts), max(t for t, _ in counts)
    step = next((s for s in _STEPS if s >= min_step and (hi - lo) / s < bars), _STEPS[-1])
    sums: Counter = Counter()
    for t, n in counts:
        sums[int(t // step) * step] += n
    first = int(lo // step) * step
    return {"step": step, "points": [[t, sums.get(t, 0)] for t in range(first, int(hi // step) * step + 1, step)]}


def _top_sources(alerts: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    counts: Counter = Counter()
    for a in alerts:
        src = a.get("source") or {}
        value = src.get("value")
        if not value:
            continue
        counts[value] += 1
        seen.setdefault(value, {"value": value, "scope": src.get("scope", ""), "country": src.get("country", ""),
                                "as_number": src.get("as_number", ""), "as_name": src.get("as_name", "")})
    return [dict(seen[v], alerts=n) for v, n in counts.most_common(TOP)]


def _parse_rates(samples) -> list[dict]:
    """Per acquisition source: lines read, parsed (ok) and unparsed (ko)."""
    names = {"synsec_acquisition_lines_read_total": "read", "synsec_parser_hits_ok_total": "parsed",
             "synsec_parser_hits_ko_total": "unparsed"}
    rows: dict[str, dict] = {}
    for s in samples:
        key = names.get(s.name)
        source = dict(s.labels).get("source")
        if key and source is not None:
            row = rows.setdefault(source, {"source": source, "read": 0, "parsed": 0, "unparsed": 0})
            row[key] += int(s.value)
    return sorted(rows.values(), key=lambda r: -r["read"])


def alert_stats(alerts: list[dict]) -> dict:
    """The alert panels (count, timeline, top scenarios and sources) from alert bodies, newest first."""
    times = [(t, 1) for a in alerts for t in [_epoch(a.get("start_at"))] if t is not None]
    return {"alerts": len(alerts), "timeline": timeline(times),
            "top_scenarios": [{"scenario": s, "alerts": n}
                              for s, n in Counter(a.get("scenario", "") for a in alerts).most_common(TOP)],
            "top_sources": _top_sources(alerts)}


def summarize(stats: dict, decisions: list, samples, now: float) -> dict:
    """Everything the dashboard draws: the alert panels (`alert_stats`, or ClickHouse's), the active
    `DecisionRecord`s by origin, and the parse rates of the counter samples."""
    origins = Counter(d.origin for d in decisions)
    community = sum(n for o, n in origins.items() if o in COMMUNITY_ORIGINS)
    return {"now": now, **stats,
            "decisions": {"active": len(decisions), "community": community, "by_origin": dict(origins.most_common())},
            "parse_rates": _parse_rates(samples)}


def _decision_row(d, now: float) -> dict:
    return {"id": d.id, "origin": d.origin, "type": d.type, "scope": d.scope, "value": d.value,
            "scenario": d.scenario, "until": d.until, "remaining": max(0, int(d.until - now))}


class DashboardRoutes:
    """The `/ui/` routes. `auth(request)` raises unless the caller holds a machine key or token; `active()`
    returns the active decisions (refreshed); `writer`/`alerts`: the backend's; `stats(now)`: the alert panels
    (default: `alert_stats` of the newest `MAX_ALERTS` alerts of `alerts`)."""

    def __init__(self, active: Callable[[], list], refresh: Callable[[], None], writer, alerts, auth,
                 clock: Callable[[], float], stats: Callable[[float], dict] | None = None):
        self.active, self.refresh, self.writer, self.alerts, self.auth, self.clock = \
            active, refresh, writer, alerts, auth, clock
        self.stats = stats or (lambda now: alert_stats(alerts.alerts(limit=MAX_ALERTS)))

    def install(self, app: web.Application) -> None:
        app.router.add_get("/ui", self.redirect)
        app.router.add_get("/ui/", self.static)
        app.router.add_get("/ui/api/summary", self.summary)
        app.router.add_get("/ui/api/decisions", self.decisions)
        app.router.add_delete("/ui/api/decisions/{decision_id}", self.unban)
        app.router.add_get("/ui/{name}", self.static)

    async def redirect(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/ui/"})

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name", "index.html")
        if name not in _STATIC:
            return message(404, "not found")
        body = files("connectors.api").joinpath("ui", name).read_bytes()
        return _secured(web.Response(body=body, content_type=_STATIC[name], charset="utf-8"))

    async def summary(self, request: web.Request) -> web.Response:
        self.auth(request)
        now = self.clock()
        try:
            stats = self.stats(now)
        except StatsUnavailable as err:
            return _secured(message(503, str(err)))
        return _secured(json_reply(summarize(stats, self.active(), self.alerts.metric_samples(), now)))

    async def decisions(self, request: web.Request) -> web.Response:
        """Active decisions whose value, scenario, origin or type contains `q` (case-insensitive), longest
        remaining first, at most `limit` (default 100, at most 1000)."""
        self.auth(request)
        unknown = sorted(set(request.query) - {"q", "limit"})
        if unknown:
            raise QueryError(f"unknown parameter(s): {', '.join(unknown)}")
        q = request.query.get("q", "").strip().lower()
        if len(q) > _MAX_QUERY:
            raise QueryError(f"q: longer than {_MAX_QUERY} characters")
        limit = parse_uint("limit", request.query.get("limit", "100"))
        if not 0 < limit <= 1000:
            raise QueryError("limit: between 1 and 1000")
        now = self.clock()
        rows = [d for d in self.active()
                if not q or any(q in f.lower() for f in (d.value, d.scenario, d.origin, d.type))]
        rows.sort(key=lambda d: (-d.until, d.id))
        return _secured(json_reply({"total": len(rows), "decisions": [_decision_row(d, now) for d in rows[:limit]]}))

    async def unban(self, request: web.Request) -> web.Response:
        self.auth(request)
        num = parse_uint("decision_id", request.match_info["decision_id"])
        n = self.writer.delete_decisions({"num": num}, self.clock())
        self.refresh()
        return _secured(json_reply({"nbDeleted": n}) if n else message(404, "no active decision with this id"))


def _secured(resp: web.Response) -> web.Response:
    resp.headers.update({"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                         "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store"})
    return resp
