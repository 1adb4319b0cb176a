"""The HTTP layer of `synsec central` (aiohttp): CrowdSec's Central API v2 as CrowdSec 1.4.6 calls it.

Routes: `POST /v2/watchers` (register), `POST /v2/watchers/login` (JWT), `POST /v2/signals`,
`GET /v2/decisions/stream`, `POST /v2/metrics/` (accepted, counted), `POST /v2/watchers/enroll` (console
enrolment: refused with a 403, there is no console), `GET /health`; and synsec's own, for `ccscli crowd`:
`GET /v2/crowd/explain?ip=` and `GET /v2/crowd/status` (any logged-in watcher; reporters are shown by
pseudonym). Too many failed logins from one client address (IPv6: its /64) get 429 for a while
(`connectors.api.throttle`, as the LAPI's wrong keys). The client address (for the throttle and for the address
a watcher registers from, which places it in a cohort) is the TCP peer, or behind `trusted_proxies` the
X-Forwarded-For hop before the first trusted proxy (`connectors.api.forwarded`). Every request is logged (method, path, status). Every
error is a JSON `{"message": …}` with a 4xx status; an unexpected exception is a 500 with the same shape and
one log line.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.api.forwarded import HEADER as FORWARDED_FOR, TrustedProxies
from connectors.api.inputs import InputError, parse_json
from connectors.api.model import parse_ip
from connectors.api.replies import http_error, internal_error, json_reply, message
from connectors.api.throttle import AuthThrottle
from connectors.central.curation import Curator
from connectors.central.signals import parse_signals
from connectors.central.store import CentralStore
from connectors.api.tokens import TokenError, login_reply, verify_token
from synsec.store.passwords import check_password, hash_password
from synsec.engine.errors import SynsecError
from synsec.engine.model import format_duration

__all__ = ["create_app", "Central", "MAX_BODY"]

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
_MACHINE_ID = re.compile(r"[A-Za-z0-9_.@-]{1,128}")
_SCENARIO = re.compile(r"[A-Za-z0-9_./:@+-]{1,256}")
_MAX_SCENARIOS = 5000
_STREAM_KEYS = {"startup", "scopes", "scenarios_containing", "scenarios_not_containing"}


class Unauthorized(SynsecError):
    """No token, or one that is invalid or names no registered watcher: a 401."""


@dataclass
class Central:
    """What the handlers share: the store, the token secret, the curation and the clock."""

    store: CentralStore
    secret: bytes
    curator: Curator
    clock: Callable[[], float] = time.time
    token_ttl: float = 3600.0
    metrics_received: int = 0
    throttle: AuthThrottle = field(default_factory=AuthThrottle)   # failed logins per client address
    rate: list = field(default_factory=list)      # (received_at, signals) of the last minute
    bus: Any = None       # connectors.central.bus.SignalBus in Kafka mode: the topology curates, not `curator`
    proxies: TrustedProxies = field(default_factory=TrustedProxies)   # peers whose X-Forwarded-For is believed

    def client(self, request: web.Request) -> str | None:
        """The request's client address: its TCP peer, or who a trusted proxy says it forwards for."""
        return self.proxies.client(request.remote, request.headers.getall(FORWARDED_FOR, ()))

    def restore(self) -> None:
        """Rebuild the curation from the store's registrations and signals, then make the blocklist match it."""
        for kind, who, what, at in self.store.history():
            if kind == "register":
                self.curator.register(who, what, at)
            elif self.bus is None:
                self.curator.tick(at)
                self.curator.ingest(who, what, at)
        if self.bus is None:
            now = self.clock()
            self.curator.tick(now)
            self.store.sync(self.curator.listed(), now)

    def pseudonym(self, name: str) -> str:
        """A stable id for a reporter that does not reveal its machine id."""
        return hmac.new(self.secret, b"reporter:" + name.encode(), hashlib.sha256).hexdigest()[:12]


async def _body(request: web.Request) -> dict:
    body = parse_json(await request.read())
    if not isinstance(body, dict):
        raise InputError("body must be a JSON object")
    return body


def _credentials(body: dict, extra: set[str]) -> tuple[str, str]:
    unknown = sorted(set(body) - {"machine_id", "password"} - extra)
    if unknown:
        raise InputError(f"unknown key(s) {unknown[:5]}")
    machine_id, password = body.get("machine_id"), body.get("password")
    if not isinstance(machine_id, str) or not _MACHINE_ID.fullmatch(machine_id):
        raise InputError("machine_id must be 1-128 characters of A-Z a-z 0-9 _ . @ -")
    if not isinstance(password, str) or not 1 <= len(password) <= 256:
        raise InputError("password must be a string of 1-256 characters")
    return machine_id, password


class Handlers:
    def __init__(self, central: Central):
        self.c = central

    def watcher(self, request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise Unauthorized("missing bearer token")
        try:
            machine_id = verify_token(self.c.secret, auth[7:].strip(), self.c.clock())
        except TokenError as err:
            raise Unauthorized(str(err)) from None
        if self.c.store.password_of(machine_id) is None:
            raise Unauthorized("unknown watcher")
        return machine_id

    @web.middleware
    async def errors(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            resp = await handler(request)
        except Unauthorized as err:
            resp = message(401, str(err))
        except InputError as err:
            resp = message(400, str(err))
        except web.HTTPException as err:
            resp = http_error(err)
        except Exception as err:  # noqa: BLE001 — a bug: one log line, a 500 without details
            resp = internal_error(log, request, err)
        log.info("%s %.200s -> %d", request.method, request.path, resp.status)
        return resp

    async def register(self, request: web.Request) -> web.Response:
        machine_id, password = _credentials(await _body(request), set())
        stored = self.c.store.password_of(machine_id)
        if stored is not None:
            if check_password(stored, password):
                return message(200, "watcher already registered")
            return message(409, "machine_id already registered")
        try:
            now, client = self.c.clock(), self.c.client(request)
            self.c.store.add_watcher(machine_id, hash_password(password), now, client)
        except sqlite3.IntegrityError:
            return message(409, "machine_id already registered")
        self.c.curator.register(machine_id, client, now)
        return message(201, "watcher registered")

    async def login(self, request: web.Request) -> web.Response:
        body = await _body(request)
        machine_id, password = _credentials(body, {"scenarios"})
        scenarios = body.get("scenarios") or []
        if not isinstance(scenarios, list) or len(scenarios) > _MAX_SCENARIOS or not all(
                isinstance(s, str) and _SCENARIO.fullmatch(s) for s in scenarios):
            raise InputError(f"scenarios must be a list of at most {_MAX_SCENARIOS} scenario names")
        now, client = self.c.clock(), self.c.client(request)
        wait = self.c.throttle.retry_after(client, now)
        if wait:
            resp = message(429, "too many failed logins: retry later")
            resp.headers["Retry-After"] = str(wait)
            return resp
        stored = self.c.store.password_of(machine_id)
        if stored is None or not check_password(stored, password):
            self.c.throttle.failed(client, now)
            return message(403, "incorrect machine_id or password")
        self.c.store.logged_in(machine_id, sorted(set(scenarios)), now)
        return json_reply(login_reply(self.c.secret, machine_id, now, self.c.token_ttl))

    async def signals(self, request: web.Request) -> web.Response:
        watcher = self.watcher(request)
        signals = parse_signals(parse_json(await request.read()))
        now = self.c.clock()
        self.c.store.add_signals(watcher, signals, now)
        self.c.rate = [(t, n) for t, n in self.c.rate if t > now - 60] + [(now, len(signals))]
        if self.c.bus is not None:
            await self.c.bus.publish(watcher, self.c.curator.cohort_of(watcher), signals, now)
            return message(200, "OK")
        removed = self.c.curator.tick(now)
        listed = self.c.curator.ingest(watcher, [(s.value, s.scenario, s.scenario_hash) for s in signals
                                                 if s.scope == "Ip"], now)
        self.c.store.publish(removed + listed, now)
        return message(200, "OK")

    async def stream(self, request: web.Request) -> web.Response:
        watcher = self.watcher(request)
        unknown = sorted(set(request.query) - _STREAM_KEYS)
        if unknown:
            raise InputError(f"unknown parameter(s): {', '.join(unknown)[:200]}")
        startup = request.query.get("startup", "false").lower()
        if startup not in ("true", "false"):
            raise InputError("startup must be true or false")
        now = self.c.clock()
        self.c.store.publish(self.c.curator.tick(now), now)
        new, deleted = self.c.store.stream(watcher, startup == "true")
        return json_reply({"new": [_decision(e, now) for e in new], "deleted": [_decision(e, now) for e in deleted]})

    async def metrics(self, request: web.Request) -> web.Response:
        self.watcher(request)
        await _body(request)
        self.c.metrics_received += 1
        return message(201, "OK")

    async def enroll(self, request: web.Request) -> web.Response:
        self.watcher(request)
        return message(403, "synsec central has no console: enrolment is not supported")

    async def explain(self, request: web.Request) -> web.Response:
        self.watcher(request)
        unknown = sorted(set(request.query) - {"ip"})
        if unknown:
            raise InputError(f"unknown parameter(s): {', '.join(unknown)[:200]}")
        try:
            value = str(parse_ip(request.query.get("ip", "")))        # canonical, as signals store it
        except ValueError:
            raise InputError("ip must be an IP address") from None
        now = self.c.clock()
        self.c.store.publish(self.c.curator.tick(now), now)
        out = self.c.curator.explain(value, now)
        for r in out["reporters"]:
            r["reporter"], r["cohort"] = self.c.pseudonym(r["reporter"]), self.c.pseudonym(r["cohort"])
        out["timeline"] = [{"reporter": self.c.pseudonym(s["watcher"]), "scenario": s["scenario"],
                            "hub_scenario": not self.c.curator.verdict(s["scenario"], s["scenario_hash"]),
                            "received_at": s["received_at"], "start_at": s["start_at"], "stop_at": s["stop_at"]}
                           for s in self.c.store.signals_of(value) if s["scope"] == "Ip"]
        out["listings"] = self.c.store.listings_of(value)
        if self.c.bus is not None:      # the topology decided: this central knows its listings only
            active = next((x for x in out["listings"] if x["removed_at"] is None), None)
            out.update(listed=active is not None, until=active["until"] if active else None,
                       scenario=active["scenario"] if active else "",
                       rule="decided by the curation topology (synsec curation): reporters and trust live there")
        return json_reply(out)

    async def status(self, request: web.Request) -> web.Response:
        self.watcher(request)
        now = self.c.clock()
        self.c.store.publish(self.c.curator.tick(now), now)
        recent = sum(n for t, n in self.c.rate if t > now - 60)
        out = {**self.c.curator.status(), "signals_per_second": round(recent / 60.0, 3)}
        if self.c.bus is not None:      # the topology curates: its counts are not here
            out.update(listed=len(self.c.store.blocklist()), tracked_addresses=None, signals_not_counted={},
                       blocklist_records_applied=self.c.bus.applied)
        return json_reply(out)

    async def health(self, request: web.Request) -> web.Response:
        return json_reply({"status": "up"})


def _decision(entry, now: float) -> dict:
    rid, scope, value, scenario, until = entry
    return {"id": rid, "origin": "CAPI", "type": "ban", "scope": scope, "value": value, "scenario": scenario,
            "duration": format_duration(max(until - now, 1.0))}


def create_app(central: Central) -> web.Application:
    h = Handlers(central)
    app = web.Application(middlewares=[h.errors], client_max_size=MAX_BODY)
    if central.bus is not None:
        app.on_startup.append(central.bus.start)
        app.on_cleanup.append(central.bus.stop)
    app.router.add_post("/v2/watchers", h.register)
    app.router.add_post("/v2/watchers/login", h.login)
    app.router.add_post("/v2/watchers/enroll", h.enroll)
    app.router.add_post("/v2/signals", h.signals)
    app.router.add_get("/v2/decisions/stream", h.stream)
    app.router.add_post("/v2/metrics", h.metrics)
    app.router.add_post("/v2/metrics/", h.metrics)
    app.router.add_get("/v2/crowd/explain", h.explain)
    app.router.add_get("/v2/crowd/status", h.status)
    app.router.add_get("/health", h.health)
    return app
