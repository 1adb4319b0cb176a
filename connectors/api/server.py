"""The HTTP layer (aiohttp): CrowdSec LAPI bouncer routes, ccscli routes, /health and /metrics.

It only talks to the interfaces in `connectors.api.view`, so the decisions source can be the embedded store
or the decisions topic. Keys: `X-Api-Key`, checked against SHA-256 hashes in constant time; a missing or
wrong key gets 403 and no data. Bouncer keys read decisions; machine keys also write decisions and read
alerts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from connectors.api.inputs import InputError, validate
from connectors.api.metrics import CONTENT_TYPE, Metrics
from connectors.api.query import (QueryError, parse_decisions_query, parse_stream_query, select,
                                  stream_body)
from connectors.api.view import AlertReader, DecisionView, DecisionWriter, KeyStore
from synsec.store.bouncers import match_key

__all__ = ["create_app", "Backend", "KeyCache", "Handlers"]

_DELETE_KEYS = {"ip": "value", "range": "value", "value": "value", "scope": "scope", "type": "type",
                "scenario": "scenario", "origin": "origin"}
_WRITE_ORIGINS = {"ccscli", "ccscli-import"}


class Forbidden(Exception):
    pass


@dataclass(frozen=True)
class Backend:
    """Where the API reads and writes: one object may implement several of these."""

    view: DecisionView
    writer: DecisionWriter
    keys: KeyStore
    alerts: AlertReader


class KeyCache:
    """Key hashes kept in memory, reloaded every `ttl` s and on a miss (at most every `miss_interval` s),
    so a bouncer added with ccscli works at once and a deleted one stops within `ttl`."""

    def __init__(self, keys: KeyStore, clock: Callable[[], float], ttl: float = 5.0, miss_interval: float = 0.5):
        self.keys, self.clock, self.ttl, self.miss_interval = keys, clock, ttl, miss_interval
        self.hashes: list[tuple[str, str, str]] = []
        self.loaded = float("-inf")

    def match(self, key: str) -> tuple[str, str] | None:
        now = self.clock()
        if now - self.loaded > self.ttl:
            self._load(now)
        found = match_key(key, self.hashes)
        if found is None and key and now - self.loaded > self.miss_interval:
            self._load(now)
            found = match_key(key, self.hashes)
        return found

    def _load(self, now: float) -> None:
        self.hashes, self.loaded = list(self.keys.key_hashes()), now


def _json(data, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


def _message(status: int, text: str) -> web.Response:
    return _json({"message": text}, status)


class Handlers:
    """One method per route; `create_app` wires them. Errors raised here become 400/403 in the middleware."""

    def __init__(self, backend: Backend, clock: Callable[[], float], metrics: Metrics):
        self.backend, self.view, self.clock, self.metrics = backend, backend.view, clock, metrics
        self.keys = KeyCache(backend.keys, clock)

    def active(self) -> list:
        now = self.clock()
        self.view.refresh(now)
        return self.view.active(now)

    def auth(self, request: web.Request, role: str = "bouncer") -> str:
        found = self.keys.match(request.headers.get("X-Api-Key", ""))
        if found is None or (role == "machine" and found[1] != "machine"):
            self.metrics.forbidden()
            raise Forbidden
        return found[0]

    @web.middleware
    async def errors_and_metrics(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            resp = await handler(request)
        except Forbidden:
            resp = _message(403, "access forbidden")
        except (QueryError, InputError) as err:
            resp = _message(400, str(err))
        except web.HTTPException as err:
            resp = _message(err.status, err.reason)
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        self.metrics.request(route, request.method, resp.status)
        return resp

    async def get_decisions(self, request: web.Request) -> web.Response:
        name = self.auth(request)
        query = parse_decisions_query(request.query)
        now = self.clock()
        self.view.refresh(now)
        recs = select(self.view, query, now)
        self.metrics.pull(name, "/v1/decisions")
        if request.method == "HEAD":
            return web.Response(status=200)
        return _json([r.to_lapi(now) for r in recs] or None)

    async def get_stream(self, request: web.Request) -> web.Response:
        name = self.auth(request)
        startup, flt = parse_stream_query(request.query)
        if request.method == "HEAD":  # no body, and the bouncer's position does not move
            return web.Response(status=200)
        now = self.clock()
        self.view.refresh(now)
        body, head = stream_body(self.view, startup, flt, self.backend.keys.last_seq(name), now)
        self.backend.keys.record_pull(name, seq=head, now=now, ip_address=request.remote,
                                      user_agent=request.headers.get("User-Agent"))
        self.metrics.pull(name, "/v1/decisions/stream")
        return _json(body)

    async def post_decisions(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        try:
            items = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError("body must be a JSON list of decisions") from None
        if not isinstance(items, list) or not items or not all(isinstance(x, dict) for x in items):
            raise InputError("body must be a non-empty JSON list of decision objects")
        decisions = [validate(x, f"decision {i + 1}") for i, x in enumerate(items)]
        bad = {d.origin for d in decisions} - _WRITE_ORIGINS
        if bad:
            raise InputError(f"origin must be one of {', '.join(sorted(_WRITE_ORIGINS))}, got {sorted(bad)}")
        ids = self.backend.writer.add_decisions(decisions, self.clock())
        self.view.refresh(self.clock(), force=True)  # read-your-writes for the next request
        return _json({"ids": ids}, 201)

    async def delete_decisions(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        unknown = sorted(set(request.query) - set(_DELETE_KEYS))
        if unknown:
            raise QueryError(f"unknown parameter(s): {', '.join(unknown)}")
        filters = {_DELETE_KEYS[k]: v for k, v in request.query.items() if v}
        if not filters:
            raise QueryError("give at least one of " + ", ".join(sorted(_DELETE_KEYS)))
        return self._deleted(self.backend.writer.delete_decisions(filters, self.clock()))

    async def delete_decision(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        text = request.match_info["decision_id"]
        if not text.isdigit():
            raise QueryError("decision_id must be a valid integer")
        return self._deleted(self.backend.writer.delete_decisions({"num": int(text)}, self.clock()))

    def _deleted(self, n: int) -> web.Response:
        self.view.refresh(self.clock(), force=True)
        return _json({"nbDeleted": str(n)})

    async def get_alerts(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        limit = request.query.get("limit", "50")
        if not limit.isdigit():
            raise QueryError("limit must be a non-negative integer")
        rows = self.backend.alerts.alerts(scenario=request.query.get("scenario") or None,
                                          value=request.query.get("ip") or request.query.get("value") or None,
                                          limit=int(limit))
        return _json(rows)

    async def get_alert(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        row = self.backend.alerts.alert(request.match_info["alert_id"])
        return _json(row) if row is not None else _message(404, "alert not found")

    async def delete_alerts(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        unknown = sorted(set(request.query) - {"scenario", "ip", "value"})
        if unknown:
            raise QueryError(f"unknown parameter(s): {', '.join(unknown)}")
        filters = {"scenario": request.query.get("scenario") or None,
                   "value": request.query.get("ip") or request.query.get("value") or None}
        if not any(filters.values()):
            raise QueryError("give at least one of scenario, ip")
        return _json({"nbDeleted": str(self.backend.alerts.delete_alerts(**filters))})

    async def delete_alert(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        n = self.backend.alerts.delete_alerts(alert_id=request.match_info["alert_id"])
        return _json({"nbDeleted": str(n)}) if n else _message(404, "alert not found")

    async def health(self, request: web.Request) -> web.Response:
        return _json({"status": "up"})

    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})


def create_app(backend: Backend, *, clock: Callable[[], float] = time.time,
               metrics: Metrics | None = None) -> web.Application:
    h = Handlers(backend, clock, metrics or Metrics())
    h.metrics.views(h.active, backend.alerts.alert_counts)
    app = web.Application(middlewares=[h.errors_and_metrics])
    app.router.add_get("/v1/decisions", h.get_decisions)             # HEAD too (allow_head)
    app.router.add_get("/v1/decisions/stream", h.get_stream)
    app.router.add_post("/v1/decisions", h.post_decisions)
    app.router.add_delete("/v1/decisions", h.delete_decisions)
    app.router.add_delete("/v1/decisions/{decision_id}", h.delete_decision)
    app.router.add_get("/v1/alerts", h.get_alerts)
    app.router.add_get("/v1/alerts/{alert_id}", h.get_alert)
    app.router.add_delete("/v1/alerts", h.delete_alerts)
    app.router.add_delete("/v1/alerts/{alert_id}", h.delete_alert)
    app.router.add_get("/health", h.health)
    app.router.add_get("/metrics", h.prometheus)
    return app
