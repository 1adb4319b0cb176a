"""The HTTP layer of `synsec central` (aiohttp): CrowdSec's Central API in two versions, v2 as CrowdSec 1.4.6
calls it and v3 as current CrowdSec does, over one set of handlers; what differs is in
connectors/central/versions.py.

Routes, under `/v2` and `/v3`: `POST …/watchers` (register), `POST …/watchers/login` (JWT), `POST …/signals`,
`GET …/decisions/stream`, `POST …/metrics` (checked, counted), `POST …/watchers/enroll` (console enrolment:
refused with a 403, there is no console); v3 only: `POST /v3/usage-metrics` (checked, counted) and
`POST /v3/watchers/reset` (refused with a 403: the request carries no proof of ownership); `GET /health`; and
synsec's own, for `ccscli crowd`: `GET …/crowd/explain?ip=` and `GET …/crowd/status` (any logged-in watcher;
reporters are shown by pseudonym). A signal whose `uuid` the same watcher sent within the resend window is
dropped (connectors/central/dedupe.py). Too many failed logins from one client address (IPv6: its /64) get
429 for a while (`connectors.api.throttle`, as the LAPI's wrong keys). The client address (`request.remote`: for
the throttle and for the address a watcher registers from, which places it in a cohort) is the TCP peer, or
behind `trusted_proxies` the X-Forwarded-For hop before the first trusted proxy
(`connectors.api.forwarded.client_middleware`). Every request is logged (method, path, status). Every error is
a JSON `{"message": …}` with a 4xx status, or a 503 with Retry-After when the broker (Kafka mode) does not take a
batch of signals (stored: it goes out later); an unexpected exception is a 500 with the same shape and one log
line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from aiohttp import web

from connectors.api.forwarded import TrustedProxies, client_middleware
from connectors.api.inputs import InputError, parse_json
from connectors.api.model import parse_ip
from connectors.api.replies import http_error, internal_error, json_reply, message, unavailable
from connectors.api.throttle import AuthThrottle
from connectors.central.bus import BrokerUnavailable
from connectors.central.curation import Curator
from connectors.central.dedupe import RecentIds
from connectors.central.signals import parse_signals
from connectors.central.store import CentralStore
from connectors.central.versions import VERSIONS, ApiVersion, flag, parse_metrics, parse_usage_metrics, \
    stream_filters
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
    usage_metrics_received: int = 0
    recent: RecentIds = field(default_factory=RecentIds)      # signal ids accepted lately (resends dropped)
    throttle: AuthThrottle = field(default_factory=AuthThrottle)   # failed logins per client address
    rate: list = field(default_factory=list)      # (received_at, signals) of the last minute
    bus: Any = None       # connectors.central.bus.SignalBus in Kafka mode: the topology curates, not `curator`
    proxies: TrustedProxies = field(default_factory=TrustedProxies)   # peers whose X-Forwarded-For is believed
    snapshots: bool = True          # keep the curation's state in the store (not in Kafka mode)
    snapshot_every: int = 250_000   # signals between two snapshots (and one at a clean stop)
    since_snapshot: int = 0

    def restore(self) -> None:
        """Rebuild the curation from the store — its last snapshot, then the registrations and the signals
        stored after it, in order — then make the blocklist match it."""
        snap = self.store.snapshot() if self.snapshots and self.bus is None else None
        after, state = snap if snap else (0, None)
        if state is not None and json.loads(state).get("rules") != self.rules_fingerprint():
            after, state = 0, None      # other rules, known-good files or hub: replay everything under them
        for kind, who, what, at in self.store.history(after):
            if kind == "register":
                self.curator.register(who, what, at)
                continue
            if state is not None:       # every registration before the first later signal is in
                self.curator.restore(json.loads(state))
                state = None
            if self.bus is None:
                self.curator.tick(at)
                self.curator.ingest(who, what, at)
            else:                       # Kafka mode: central counts bursts (it sees every report of a reporter)
                self.curator.beyond_burst(who, len(what), at)
        if state is not None:
            self.curator.restore(json.loads(state))
        now = self.clock()
        rows = self.store.recent_signals(now - self.recent.window, self.recent.max_ids)
        for (watcher, at), batch in groupby(rows, key=lambda row: (row[0], row[2])):     # one batch per request
            self.recent.accepted(watcher, [s for _, s, _ in batch], at)
        if self.bus is None:
            self.curator.tick(now)
            self.store.sync(self.curator.listed(), now)

    def matching(self, watcher: str, entries: list) -> list:
        """The entries listed for a behaviour of a scenario the watcher runs (the names its last login sent; how
        CrowdSec's CAPI matches the community blocklist to an installation); all of them for a watcher that sent
        none."""
        runs = self.store.scenarios_of(watcher)
        if not runs:
            return entries
        wanted = {self.curator.behaviour(name) for name in runs}
        return [e for e in entries if self.curator.behaviour(e[3]) in wanted]

    def rules_fingerprint(self) -> str:
        """What a snapshot was made under: the rules (known-good ranges included) and the hub's scenarios."""
        cur = self.curator
        text = repr((cur.rules, sorted((k, sorted(v[0]), v[1]) for k, v in cur.scenarios.items())))
        return hashlib.sha256(text.encode()).hexdigest()

    def save_snapshot(self) -> None:
        """Keep the curation's state in the store, so that the next start replays only what follows."""
        if self.snapshots and self.bus is None:
            state = {**self.curator.snapshot(), "rules": self.rules_fingerprint()}
            self.store.save_snapshot(json.dumps(state, separators=(",", ":")).encode(), self.clock())
            self.since_snapshot = 0

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
        hashed, now, client = hash_password(password), self.c.clock(), request.remote
        relabelled = self.c.curator.register(machine_id, client, now)
        try:        # Kafka mode: the cohort changes are stored with it, and go out with the signals (bus.flush)
            self.c.store.add_watcher(machine_id, hashed, now, client,
                                     relabelled if self.c.bus is not None else None)
        except sqlite3.IntegrityError:
            return message(409, "machine_id already registered")
        return message(201, "watcher registered")

    async def login(self, request: web.Request) -> web.Response:
        body = await _body(request)
        machine_id, password = _credentials(body, {"scenarios"})
        scenarios = (body.get("scenarios") or []) if "scenarios" in body else None    # None: keep the stored ones
        if scenarios is not None and (not isinstance(scenarios, list) or len(scenarios) > _MAX_SCENARIOS or not all(
                isinstance(s, str) and _SCENARIO.fullmatch(s) for s in scenarios)):
            raise InputError(f"scenarios must be a list of at most {_MAX_SCENARIOS} scenario names")
        now, client = self.c.clock(), request.remote
        wait = self.c.throttle.retry_after(client, now)
        if wait:
            resp = message(429, "too many failed logins: retry later")
            resp.headers["Retry-After"] = str(wait)
            return resp
        stored = self.c.store.password_of(machine_id)
        if stored is None or not check_password(stored, password):
            self.c.throttle.failed(client, now)
            return message(403, "incorrect machine_id or password")
        self.c.store.logged_in(machine_id, None if scenarios is None else sorted(set(scenarios)), now)
        return json_reply(login_reply(self.c.secret, machine_id, now, self.c.token_ttl))

    async def signals(self, version: ApiVersion, request: web.Request) -> web.Response:
        watcher = self.watcher(request)
        signals = parse_signals(parse_json(await request.read()), version.name)
        now = self.c.clock()
        signals = self.c.recent.fresh(watcher, signals, now)
        if not signals:
            return message(200, "OK")       # every signal of the batch was received before (a resend)
        if self.c.bus is None:
            self.c.store.add_signals(watcher, signals, now)
        else:       # stored unpublished with the labels it goes out with, now or at a later flush (or start)
            beyond = self.c.curator.beyond_burst(watcher, sum(1 for s in signals if s.scope == "Ip"), now)
            self.c.store.add_signals(watcher, signals, now, self.c.curator.cohort_of(watcher), beyond)
        self.c.recent.accepted(watcher, signals, now)
        self.c.rate = [(t, n) for t, n in self.c.rate if t > now - 60] + [(now, len(signals))]
        if self.c.bus is not None:
            try:
                await self.c.bus.flush()
            except BrokerUnavailable as err:
                return unavailable(f"signals stored but not yet published: {err}", self.c.bus.retry)
            return message(200, "OK")
        removed = self.c.curator.tick(now)
        listed = self.c.curator.ingest(watcher, [(s.value, s.scenario, s.scenario_hash) for s in signals
                                                 if s.scope == "Ip"], now)
        self.c.store.publish(removed + listed, now)
        self.c.since_snapshot += len(signals)
        if self.c.since_snapshot >= self.c.snapshot_every:
            self.c.save_snapshot()
        return message(200, "OK")

    async def stream(self, version: ApiVersion, request: web.Request) -> web.Response:
        watcher = self.watcher(request)
        unknown = sorted(set(request.query) - version.stream_params)
        if unknown:
            raise InputError(f"unknown parameter(s): {', '.join(unknown)[:200]}")
        startup = flag(request.query, "startup", False)
        community, links = flag(request.query, "community_pull", True), flag(request.query, "additional_pull", True)
        keep = stream_filters(request.query)
        now = self.c.clock()
        self.c.store.publish(self.c.curator.tick(now), now)
        new, deleted = self.c.store.stream(watcher, startup) if community else ([], [])
        new = self.c.matching(watcher, new)
        return json_reply(version.stream_body([d for d in (_decision(e, now) for e in new) if keep(d)],
                                              [d for d in (_decision(e, now) for e in deleted) if keep(d)], links))

    async def metrics(self, version: ApiVersion, request: web.Request) -> web.Response:
        self.watcher(request)
        parse_metrics(parse_json(await request.read()))
        self.c.metrics_received += 1
        return message(version.metrics_status, "OK")

    async def usage_metrics(self, request: web.Request) -> web.Response:
        self.watcher(request)
        parse_usage_metrics(parse_json(await request.read()))
        self.c.usage_metrics_received += 1
        return message(201, "OK")

    async def reset(self, request: web.Request) -> web.Response:
        _credentials(await _body(request), set())
        return message(403, "password reset is not supported (the request proves no ownership): register a new "
                            "watcher")

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
        out = {**self.c.curator.status(), "signals_per_second": round(recent / 60.0, 3),
               "signals_resent": self.c.recent.dropped}
        if self.c.bus is not None:      # the topology curates: its counts are not here
            out.update(listed=len(self.c.store.blocklist()), tracked_addresses=None, signals_not_counted={},
                       blocklist_records_applied=self.c.bus.applied)
        return json_reply(out)

    async def health(self, request: web.Request) -> web.Response:
        if self.c.bus is None:
            return json_reply({"status": "up"})
        return json_reply({"status": "up", "broker": "up" if self.c.bus.reached() else "down"})


def _decision(entry, now: float) -> dict:
    rid, scope, value, scenario, until = entry
    return {"id": rid, "origin": "CAPI", "type": "ban", "scope": scope, "value": value, "scenario": scenario,
            "duration": format_duration(max(until - now, 1.0))}


def create_app(central: Central) -> web.Application:
    h = Handlers(central)
    app = web.Application(middlewares=[client_middleware(central.proxies), h.errors], client_max_size=MAX_BODY)
    if central.bus is not None:
        app.on_startup.append(central.bus.start)
        app.on_cleanup.append(central.bus.stop)
    else:
        async def _snapshot(_app) -> None:
            central.save_snapshot()
        app.on_cleanup.append(_snapshot)
    for version in VERSIONS:
        p = "/" + version.name
        app.router.add_post(p + "/watchers", h.register)
        app.router.add_post(p + "/watchers/login", h.login)
        app.router.add_post(p + "/watchers/enroll", h.enroll)
        app.router.add_post(p + "/signals", _bound(h.signals, version))
        app.router.add_get(p + "/decisions/stream", _bound(h.stream, version))
        app.router.add_post(p + "/metrics", _bound(h.metrics, version))
        app.router.add_post(p + "/metrics/", _bound(h.metrics, version))
        app.router.add_get(p + "/crowd/explain", h.explain)
        app.router.add_get(p + "/crowd/status", h.status)
    app.router.add_post("/v3/usage-metrics", h.usage_metrics)
    app.router.add_post("/v3/watchers/reset", h.reset)
    app.router.add_get("/health", h.health)
    return app


def _bound(handler, version: ApiVersion):
    """A route handler of one version: `handler(version, request)`."""
    async def serve(request: web.Request) -> web.StreamResponse:
        return await handler(version, request)
    return serve
