"""The machine side of CrowdSec's LAPI: what a log processor (a CrowdSec agent, "watcher") calls.

`POST /v1/watchers` (registration: off unless enabled; the machine waits for `ccscli machines validate`),
`POST /v1/watchers/login` (machine id + password → a JWT and its expiry; the scenarios sent are stored),
`GET /v1/refresh_token`, `GET /v1/heartbeat`, `POST /v1/alerts` (alerts → the store or the alerts topic →
profiles → decisions for bouncers), `POST /v1/usage-metrics` (accepted, counted). A wrong password counts as a
failed authentication of the client address, as a wrong API key does (`connectors.api.throttle`); a token
that is malformed or badly signed does too, an expired one does not (an agent's token expires every hour).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from connectors.api.alert_input import parse_alerts
from connectors.api.inputs import InputError, parse_json
from connectors.api.metrics import Metrics
from connectors.api.replies import json_reply, message
from connectors.api.tokens import TokenError, login_reply, verify_token
from synsec.engine.errors import SynsecError
from synsec.store.machines import check_machine_id, check_password_text
from synsec.store.passwords import new_password

__all__ = ["MachineRoutes", "MachineStore", "AlertWriter", "Unauthorized", "read_body", "MAX_ALERTS_BODY"]

MAX_ALERTS_BODY = 16 * 1024 * 1024      # bytes: a replay's batch of alerts with their events
MAX_METRICS_BODY = 256 * 1024
_MAX_SCENARIOS = 5000
_LOGIN_KEYS = {"machine_id", "password", "scenarios"}


class Unauthorized(SynsecError):
    """No bearer token, or one that is invalid, expired or names no validated machine: a 401."""


class MachineStore(Protocol):
    """The machines table (`synsec.store.machines.MachineTable`)."""

    def add_machine(self, machine_id: str, password: str, *, validated: bool = True, force: bool = False,
                    now: float | None = None, ip_address: str | None = None) -> None: ...

    def check_machine(self, machine_id: str, password: str): ...

    def machine(self, machine_id: str): ...

    def machine_seen(self, machine_id: str, what: str, now: float, *, ip_address: str | None = None,
                     user_agent: str | None = None, scenarios: list[str] | None = None) -> None: ...


class AlertWriter(Protocol):
    def push_alerts(self, pushed: list, machine_id: str, now: float) -> list[str]:
        """Store or publish validated `PushedAlert`s with their decisions (given, or the profiles'); their ids."""


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, at most `limit` bytes (a 413 beyond, whether or not Content-Length said so)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    chunks, size = [], 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        chunks.append(chunk)


def _scenarios(value) -> list[str]:
    scenarios = value or []
    if not isinstance(scenarios, list) or len(scenarios) > _MAX_SCENARIOS or not all(
            isinstance(s, str) and 0 < len(s) <= 256 and s.isprintable() for s in scenarios):
        raise InputError(f"scenarios must be a list of at most {_MAX_SCENARIOS} scenario names")
    return scenarios


def _text_header(request: web.Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value[:256] if value and value.isprintable() and value.isascii() else None


@dataclass
class MachineRoutes:
    """The handlers; `auth_failed(remote)` counts a failed authentication, `retry_after(remote)` is the
    throttle's wait (both the API's, so keys and passwords share one budget)."""

    machines: MachineStore
    alerts: AlertWriter
    secret: bytes
    clock: Callable[[], float]
    retry_after: Callable[[str | None], int]
    auth_failed: Callable[[str | None], None]
    allow_registration: bool = False
    cert_machine: Callable[[web.Request], str | None] = lambda request: None   # a client certificate's machine
    token_ttl: float = 3600.0
    metrics: Metrics = field(default_factory=Metrics)
    written: Callable[[], None] = lambda: None   # after a push: the API's view reads it (read-your-writes)

    def machine_id(self, request: web.Request) -> str:
        """The machine a request's bearer token was issued to (Unauthorized otherwise)."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise Unauthorized("missing bearer token")
        try:
            machine_id = verify_token(self.secret, auth[7:].strip(), self.clock())
        except TokenError as err:
            if str(err) != "token expired":
                self.auth_failed(request.remote)
            raise Unauthorized(str(err)) from None
        found = self.machines.machine(machine_id)
        if found is None or not found.is_validated:
            raise Unauthorized("unknown or unvalidated machine")
        return machine_id

    def _token(self, machine_id: str) -> web.Response:
        return json_reply(login_reply(self.secret, machine_id, self.clock(), self.token_ttl))

    async def _credentials(self, request: web.Request, keys: set[str]) -> tuple[dict, str, str]:
        body = parse_json(await read_body(request, 64 * 1024 + _MAX_SCENARIOS * 300))
        if not isinstance(body, dict):
            raise InputError("body must be a JSON object")
        unknown = sorted(map(str, set(body) - keys))
        if unknown:
            raise InputError(f"unknown field(s) {', '.join(unknown)[:200]}")
        try:
            return body, check_machine_id(body.get("machine_id")), check_password_text(body.get("password"))
        except ValueError as err:
            raise InputError(str(err)) from None

    async def register(self, request: web.Request) -> web.Response:
        if not self.allow_registration:
            return message(403, "machine registration is disabled on this API (synsec api --allow-registration)")
        _, machine_id, password = await self._credentials(request, {"machine_id", "password"})
        try:
            self.machines.add_machine(machine_id, password, validated=False, now=self.clock(),
                                      ip_address=request.remote)
        except ValueError:
            return message(403, "machine already exists")
        return message(201, "machine registered: validate it with `ccscli machines validate`")

    async def login(self, request: web.Request) -> web.Response:
        """A password login, or (`cert_machine` gives a name) a client-certificate one: the machine `CN@address`
        is created validated on its first login, as CrowdSec's LAPI does for an agent's certificate."""
        cert_name = self.cert_machine(request)
        if cert_name is not None:
            body = parse_json(await read_body(request, 64 * 1024 + _MAX_SCENARIOS * 300))
            scenarios = _scenarios(body.get("scenarios") if isinstance(body, dict) else None)
            if self.machines.machine(cert_name) is None:
                self.machines.add_machine(cert_name, new_password(), now=self.clock(), ip_address=request.remote)
            return self._logged_in(request, cert_name, scenarios)
        body, machine_id, password = await self._credentials(request, _LOGIN_KEYS)
        scenarios = _scenarios(body.get("scenarios"))
        wait = self.retry_after(request.remote)
        if wait:
            resp = message(429, "too many failed authentications: retry later")
            resp.headers["Retry-After"] = str(wait)
            return resp
        found = self.machines.check_machine(machine_id, password)
        if found is None:
            self.auth_failed(request.remote)
            return message(403, "incorrect machine_id or password")
        if not found.is_validated:
            return message(403, f"machine {machine_id} not validated")
        return self._logged_in(request, machine_id, scenarios)

    def _logged_in(self, request: web.Request, machine_id: str, scenarios: list[str]) -> web.Response:
        self.machines.machine_seen(machine_id, "login", self.clock(), ip_address=request.remote,
                                   user_agent=_text_header(request, "User-Agent"),
                                   scenarios=sorted(set(scenarios)) or None)   # cscli sends none: keep the agent's
        return self._token(machine_id)

    async def refresh_token(self, request: web.Request) -> web.Response:
        return self._token(self.machine_id(request))

    async def heartbeat(self, request: web.Request) -> web.Response:
        machine_id = self.machine_id(request)
        self.machines.machine_seen(machine_id, "heartbeat", self.clock(), ip_address=request.remote)
        return web.Response(status=200)

    async def post_alerts(self, request: web.Request) -> web.Response:
        machine_id = self.machine_id(request)
        body = parse_json(await read_body(request, MAX_ALERTS_BODY))
        pushed = parse_alerts(body)
        now = self.clock()
        ids = self.alerts.push_alerts(pushed, machine_id, now)
        self.machines.machine_seen(machine_id, "push", now, ip_address=request.remote,
                                   user_agent=_text_header(request, "User-Agent"))
        self.metrics.pushed(machine_id, len(pushed))
        self.written()
        return json_reply(ids, 201)

    async def usage_metrics(self, request: web.Request) -> web.Response:
        """Accepted and counted (the caller is authenticated by the API, as a machine or a bouncer)."""
        body = parse_json(await read_body(request, MAX_METRICS_BODY))
        if not isinstance(body, dict):
            raise InputError("body must be a JSON object")
        self.metrics.usage()
        return json_reply({}, 201)

