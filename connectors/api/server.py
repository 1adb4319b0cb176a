"""The HTTP layer (aiohttp): CrowdSec LAPI bouncer and machine routes, ccscli routes, /health and /metrics.

It only talks to the interfaces in `connectors.api.view`, so the decisions source can be the embedded store
or the decisions topic. Keys: `X-Api-Key`, checked against salted hashes (`synsec.store.bouncers.KeyIndex`);
a missing or wrong key gets 403 and no data, and a client address with too many wrong keys gets 429
(`connectors.api.throttle`). Bouncer keys read decisions; machine keys also write decisions and read alerts.
Machines (CrowdSec agents) log in with a password and use a JWT (`connectors.api.machines`): a missing, bad or
expired token gets 401.

Every error is a JSON body `{"message": …}` with a 4xx status (CrowdSec's shape); an unexpected exception
is a 500 with the same shape, no traceback text, and one log line.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from connectors.api.alert_input import Oversize
from connectors.api.dashboard import DashboardRoutes
from connectors.api.inputs import InputError, parse_json, validate
from connectors.api.allowlists import AllowlistRoutes, AllowlistStore
from connectors.api.machines import AlertWriter, MachineRoutes, MachineStore, Unauthorized, read_body
from connectors.api.metrics import CONTENT_TYPE, Metrics
from connectors.api.model import parse_ip, parse_network
from connectors.api.replies import http_error, internal_error, json_reply, message
from connectors.api.query import (DELETE_ALERTS_KEYS, QueryError, parse_alerts_query, parse_decisions_query,
                                  parse_stream_query, parse_uint, select, stream_body)
from connectors.api.forwarded import TrustedProxies, client_middleware
from connectors.api.throttle import AuthThrottle
from connectors.api.tls import CertRoles
from connectors.api.view import AlertReader, DecisionView, DecisionWriter, KeyStore
from synsec.store.bouncers import KeyIndex
from synsec.engine.errors import SynsecError

__all__ = ["create_app", "Backend", "KeyCache", "Handlers", "OneLineErrors", "MAX_BODY"]

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024      # bytes; a larger body is a 413
_DELETE_KEYS = {"ip": "value", "range": "value", "value": "value", "scope": "scope", "type": "type",
                "scenario": "scenario", "origin": "origin"}
_CERT_NAME = re.compile(r"[^A-Za-z0-9._@-]")        # a certificate's CN@address as a bouncer or machine name
_WRITE_ORIGINS = {"ccscli", "ccscli-import"}
_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}   # metric labels; others: "other"


class Forbidden(SynsecError):
    pass


class Throttled(SynsecError):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Backend:
    """Where the API reads and writes: one object may implement several of these."""

    view: DecisionView
    writer: DecisionWriter
    keys: KeyStore
    alerts: AlertReader
    machines: MachineStore | None = None      # with `alert_writer`: the machine routes are served
    alert_writer: AlertWriter | None = None
    allowlists: AllowlistStore | None = None  # the /v1/allowlists routes are served


class KeyCache:
    """Key rows kept in memory, reloaded every `ttl` s and on a miss (at most every `miss_interval` s),
    so a bouncer added with ccscli works at once and a deleted one stops within `ttl`. A key verified
    against an unsalted row from an older synsec has its row rewritten salted."""

    def __init__(self, keys: KeyStore, clock: Callable[[], float], ttl: float = 5.0, miss_interval: float = 0.5):
        self.keys, self.clock, self.ttl, self.miss_interval = keys, clock, ttl, miss_interval
        self.index = KeyIndex()
        self.loaded = float("-inf")

    def match(self, key: str) -> tuple[str, str] | None:
        now = self.clock()
        if now - self.loaded > self.ttl:
            self._load(now)
        found = self.index.match(key)
        if found is None and key and now - self.loaded > self.miss_interval:
            self._load(now)
            found = self.index.match(key)
        if found is None:
            return None
        name, role, legacy = found
        if legacy:
            self.keys.upgrade_key(name, key)
            self._load(now)
        return name, role

    def _load(self, now: float) -> None:
        self.index, self.loaded = KeyIndex(self.keys.key_rows()), now


def _check_text(request: web.Request) -> None:
    """Path and query must be text (percent-escapes of non-UTF-8 bytes decode to lone surrogates)."""
    try:
        request.path.encode("utf-8")
        for k, v in request.query.items():
            k.encode("utf-8"), v.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError("path and query must be UTF-8") from None


def _header(request: web.Request, name: str, limit: int = 256) -> str | None:
    """A header kept in the store (User-Agent): None unless UTF-8 text without control characters."""
    value = request.headers.get(name)
    if value is None or not value.isprintable():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value[:limit]


def _canonical(param: str, value: str) -> str:
    """An `ip`/`range` filter as the decisions store it (IPv4-mapped IPv6 as IPv4; `parse_ip`)."""
    try:
        if param == "ip":
            return str(parse_ip(value.strip()))
        if param == "range":
            return str(parse_network(value.strip(), strict=False))
    except ValueError:
        raise QueryError(f"{param}: {value[:60]!r} is not an {'address' if param == 'ip' else 'CIDR range'}") from None
    return value


def _bearer(request: web.Request) -> bool:
    return request.headers.get("Authorization", "").startswith("Bearer ")


class OneLineErrors(logging.Filter):
    """Turns a log record's traceback into one line (aiohttp logs one per malformed request) and lets at most
    `per_second` records through each second (the second of the record's own time, the one a log line prints,
    unless a `clock` is given); the next one let through says how many were dropped. With
    `only`, on a handler: applies to the records of that logger and its children (e.g. "aiokafka", which logs
    each reconnection attempt while a broker is down), and lets the others through untouched."""

    def __init__(self, per_second: int = 20, clock: Callable[[], float] | None = None, only: str = ""):
        super().__init__()
        self.per_second, self.clock, self.only = per_second, clock, only
        self._second, self._count, self.suppressed = 0, 0, 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self.only and record.name != self.only and not record.name.startswith(self.only + "."):
            return True
        second = int(self.clock() if self.clock is not None else record.created)
        if second != self._second:
            self._second, self._count = second, 0
        self._count += 1
        if self._count > self.per_second:
            self.suppressed += 1
            return False
        if record.exc_info and record.exc_info[1] is not None:
            exc, message = record.exc_info[1], record.getMessage()
            record.msg, record.args = "%s: %s: %.200r", (message, type(exc).__name__, str(exc))
            record.exc_info, record.exc_text = None, None
        if self.suppressed:
            record.msg, record.args = "%s (%d similar lines dropped)", (record.getMessage(), self.suppressed)
            self.suppressed = 0
        return True


class Handlers:
    """One method per route; `create_app` wires them. Errors raised here become JSON 4xx in the middleware."""

    def __init__(self, backend: Backend, clock: Callable[[], float], metrics: Metrics,
                 throttle: AuthThrottle | None = None):
        self.backend, self.view, self.clock, self.metrics = backend, backend.view, clock, metrics
        self.keys = KeyCache(backend.keys, clock)
        self.throttle = throttle if throttle is not None else AuthThrottle()   # an empty one is falsy (len 0)
        self.machines: MachineRoutes | None = None
        self.cert_roles: CertRoles | None = None

    def cert_identity(self, request: web.Request) -> tuple[str, str] | None:
        """(role, `CN@address`) of a verified client certificate (`connectors.api.tls`), else None."""
        if self.cert_roles is None or request.transport is None:
            return None
        found = self.cert_roles.identify(request.transport.get_extra_info("peercert"))
        if found is None:
            return None
        return found[0], _CERT_NAME.sub("_", f"{found[1]}@{request.remote or ''}")[:64]

    def cert_machine(self, request: web.Request) -> str | None:
        found = self.cert_identity(request)
        return found[1] if found and found[0] == "machine" else None

    def retry_after(self, remote: str | None) -> int:
        wait = self.throttle.retry_after(remote, self.clock())
        if wait:
            self.metrics.throttled()
        return wait

    def auth_failed(self, remote: str | None) -> None:
        self.throttle.failed(remote, self.clock())
        self.metrics.forbidden()

    def machine_auth(self, request: web.Request) -> str:
        """A logged-in machine (bearer token) or a `machine` API key (ccscli): its name."""
        if self.machines is not None and _bearer(request):
            wait = self.retry_after(request.remote)
            if wait:
                raise Throttled(wait)
            return self.machines.machine_id(request)
        return self.auth(request, "machine")

    def active(self) -> list:
        now = self.clock()
        self.view.refresh(now)
        return self.view.active(now)

    def auth(self, request: web.Request, role: str = "bouncer") -> str:
        found = self.cert_identity(request)
        if found is not None and found[0] == "bouncer" and role == "bouncer" and "X-Api-Key" not in request.headers:
            self.backend.keys.ensure_bouncer(found[1])      # a client certificate: a bouncer named CN@address
            return found[1]
        now = self.clock()
        wait = self.throttle.retry_after(request.remote, now)
        if wait:
            self.metrics.throttled()
            raise Throttled(wait)
        found = self.keys.match(request.headers.get("X-Api-Key", ""))
        if found is None:
            self.throttle.failed(request.remote, now)
        if found is None or (role == "machine" and found[1] != "machine"):
            self.metrics.forbidden()
            raise Forbidden
        return found[0]

    @web.middleware
    async def errors_and_metrics(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            _check_text(request)
            resp = await handler(request)
        except Forbidden:
            resp = message(403, "access forbidden")
        except Unauthorized as err:
            resp = message(401, str(err))
        except Oversize as err:
            resp = message(413, str(err))
        except Throttled as err:
            resp = message(429, "too many failed authentications: retry later")
            resp.headers["Retry-After"] = str(err.retry_after)
        except (QueryError, InputError) as err:
            resp = message(400, str(err))
        except web.HTTPException as err:
            resp = http_error(err)
        except Exception as err:  # noqa: BLE001 — a bug: one log line, a 500 without details
            resp = internal_error(log, request, err)
        if resp.status == 413:
            resp.force_close()           # the rest of a body too large is not read: no waiting for it
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        self.metrics.request(route, request.method if request.method in _METHODS else "other", resp.status)
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
        return json_reply([r.to_lapi(now) for r in recs] or None)

    async def get_stream(self, request: web.Request) -> web.Response:
        name = self.auth(request)
        startup, flt = parse_stream_query(request.query)
        if request.method == "HEAD":  # no body, and the bouncer's position does not move
            return web.Response(status=200)
        now = self.clock()
        self.view.refresh(now)
        body, head = stream_body(self.view, startup, flt, self.backend.keys.last_seq(name), now)
        self.backend.keys.record_pull(name, seq=head, now=now, ip_address=request.remote,
                                      user_agent=_header(request, "User-Agent"))
        self.metrics.pull(name, "/v1/decisions/stream")
        return json_reply(body)

    async def post_decisions(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        # any Content-Type, as CrowdSec's LAPI (curl -d sends a form's)
        items = parse_json(await read_body(request, MAX_BODY))
        if not isinstance(items, list) or not items or not all(isinstance(x, dict) for x in items):
            raise InputError("body must be a non-empty JSON list of decision objects")
        decisions = [validate(x, f"decision {i + 1}") for i, x in enumerate(items)]
        bad = {d.origin for d in decisions} - _WRITE_ORIGINS
        if bad:
            raise InputError(f"origin must be one of {', '.join(sorted(_WRITE_ORIGINS))}, got {sorted(bad)}")
        ids = self.backend.writer.add_decisions(decisions, self.clock())
        self.view.refresh(self.clock(), force=True)  # read-your-writes for the next request
        return json_reply({"ids": ids}, 201)

    async def delete_decisions(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        unknown = sorted(set(request.query) - set(_DELETE_KEYS))
        if unknown:
            raise QueryError(f"unknown parameter(s): {', '.join(unknown)}")
        filters = {_DELETE_KEYS[k]: _canonical(k, v) for k, v in request.query.items() if v}
        if not filters:
            raise QueryError("give at least one of " + ", ".join(sorted(_DELETE_KEYS)))
        return self._deleted(self.backend.writer.delete_decisions(filters, self.clock()))

    async def delete_decision(self, request: web.Request) -> web.Response:
        self.auth(request, "machine")
        num = parse_uint("decision_id", request.match_info["decision_id"])
        return self._deleted(self.backend.writer.delete_decisions({"num": num}, self.clock()))

    def _deleted(self, n: int) -> web.Response:
        self.view.refresh(self.clock(), force=True)
        return json_reply({"nbDeleted": str(n)})

    async def get_alerts(self, request: web.Request) -> web.Response:
        """Machines logged in with a token (CrowdSec's agents, cscli) get CrowdSec's alert shape; machine keys
        (ccscli) synsec's."""
        self.machine_auth(request)
        now = self.clock()
        where, limit = parse_alerts_query(request.query, now)
        if request.method == "HEAD":
            return web.Response(status=200)
        if _bearer(request):
            return json_reply(self.backend.alerts.lapi_alerts(where, limit, now))
        return json_reply(self.backend.alerts.alerts(where=where, limit=limit))

    async def get_alert(self, request: web.Request) -> web.Response:
        self.machine_auth(request)
        alert_id = request.match_info["alert_id"]
        row = self.backend.alerts.lapi_alert(alert_id, self.clock()) if _bearer(request) else \
            self.backend.alerts.alert(alert_id)
        return json_reply(row) if row is not None else message(404, "alert not found")

    async def delete_alerts(self, request: web.Request) -> web.Response:
        self.machine_auth(request)
        where, _ = parse_alerts_query(request.query, self.clock(), DELETE_ALERTS_KEYS)
        if where.empty():
            raise QueryError("give at least one of " + ", ".join(sorted(DELETE_ALERTS_KEYS)))
        return json_reply({"nbDeleted": str(self.backend.alerts.delete_alerts(where=where))})

    async def delete_alert(self, request: web.Request) -> web.Response:
        self.machine_auth(request)
        n = self.backend.alerts.delete_alerts(alert_id=request.match_info["alert_id"])
        return json_reply({"nbDeleted": str(n)}) if n else message(404, "alert not found")

    def either_auth(self, request: web.Request) -> str:
        """A bouncer or machine key (`X-Api-Key`), else a machine's token: the caller's name."""
        return self.auth(request) if "X-Api-Key" in request.headers else self.machine_auth(request)

    async def usage_metrics(self, request: web.Request) -> web.Response:
        self.either_auth(request)
        return await self.machines.usage_metrics(request)

    async def health(self, request: web.Request) -> web.Response:
        return json_reply({"status": "up"})

    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})


def create_app(backend: Backend, *, clock: Callable[[], float] = time.time, metrics: Metrics | None = None,
               throttle: AuthThrottle | None = None, secret: bytes | None = None, allow_registration: bool = False,
               token_ttl: float = 3600.0, cert_roles: CertRoles | None = None,
               dashboard_stats: Callable[[float], dict] | None = None,
               proxies: TrustedProxies | None = None) -> web.Application:
    """The API app; with `backend.machines`, `backend.alert_writer` and a token `secret`, the machine routes too;
    with `cert_roles` (HTTPS with a client CA), verified client certificates authenticate bouncers and agents;
    `dashboard_stats`: where the dashboard's alert panels come from (default: `backend.alerts`); `proxies`: the
    reverse proxies whose X-Forwarded-For names the client (`request.remote` for every handler)."""
    h = Handlers(backend, clock, metrics or Metrics(), throttle)
    h.cert_roles = cert_roles
    h.metrics.views(h.active, backend.alerts.alert_counts, lambda: getattr(backend.view, "out_of_range", 0),
                    backend.alerts.metric_samples)
    first = [client_middleware(proxies)] if proxies is not None and proxies.networks else []
    app = web.Application(middlewares=[*first, h.errors_and_metrics], client_max_size=MAX_BODY)
    if backend.machines is not None and backend.alert_writer is not None and secret is not None:
        h.machines = m = MachineRoutes(backend.machines, backend.alert_writer, secret, clock, h.retry_after,
                                       h.auth_failed, allow_registration=allow_registration, token_ttl=token_ttl,
                                       metrics=h.metrics, cert_machine=h.cert_machine,
                                       written=lambda: h.view.refresh(h.clock(), force=True))
        app.router.add_post("/v1/watchers", m.register)
        app.router.add_post("/v1/watchers/login", m.login)
        app.router.add_get("/v1/refresh_token", m.refresh_token)
        app.router.add_get("/v1/heartbeat", m.heartbeat)
        app.router.add_post("/v1/alerts", m.post_alerts)
        app.router.add_post("/v1/usage-metrics", h.usage_metrics)
    app.router.add_get("/v1/decisions", h.get_decisions)             # HEAD too (allow_head)
    app.router.add_get("/v1/decisions/stream", h.get_stream)
    app.router.add_post("/v1/decisions", h.post_decisions)
    app.router.add_delete("/v1/decisions", h.delete_decisions)
    app.router.add_delete("/v1/decisions/{decision_id}", h.delete_decision)
    app.router.add_get("/v1/alerts", h.get_alerts)
    app.router.add_get("/v1/alerts/{alert_id}", h.get_alert)
    app.router.add_delete("/v1/alerts", h.delete_alerts)
    app.router.add_delete("/v1/alerts/{alert_id}", h.delete_alert)
    if backend.allowlists is not None:
        AllowlistRoutes(backend.allowlists, h.either_auth, clock).install(app)
    DashboardRoutes(h.active, lambda: h.view.refresh(h.clock(), force=True), backend.writer, backend.alerts,
                    h.machine_auth, clock, dashboard_stats).install(app)
    app.router.add_get("/health", h.health)
    app.router.add_get("/metrics", h.prometheus)
    return app
