"""CrowdSec 1.7's allowlist routes: `GET /v1/allowlists[?with_content=true]`, `GET /v1/allowlists/{name}`,
`GET|HEAD /v1/allowlists/check/{ip_or_range}` and `POST /v1/allowlists/check` (bulk), answered from the
store's lists (`synsec.store.allowlists`). Read-only; a machine (token or key) or a bouncer key may ask."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Callable, Protocol

from aiohttp import web

from connectors.api.machines import read_body
from connectors.api.query import QueryError
from connectors.api.replies import json_reply, message
from synsec.store.allowlists import AllowlistError, allowlist_item

__all__ = ["AllowlistStore", "AllowlistRoutes", "MAX_BULK_TARGETS"]

MAX_BULK_TARGETS = 1000
_MAX_BULK_BODY = 64 * 1024


class AllowlistStore(Protocol):
    """The store's allowlists (`synsec.store.allowlists.AllowlistTable`)."""

    def allowlists(self, now: float, *, with_items: bool = False) -> list[dict]: ...

    def allowlist(self, name: str, now: float, *, with_items: bool = True) -> dict | None: ...

    def allowlisted_by(self, value: str, now: float) -> list[str]: ...


def _time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts or 0, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else \
        "0001-01-01T00:00:00Z"


def _lapi(row: dict, with_items: bool) -> dict:
    """A list as CrowdSec's `GetAllowlistResponse`."""
    return {"allowlist_id": row["name"], "name": row["name"], "description": row["description"],
            "created_at": _time(row["created_at"]), "updated_at": _time(row["updated_at"]),
            "console_managed": False,
            "items": [{"value": i["value"], "description": i["description"], "expiration": _time(i["expiration"]),
                       "created_at": _time(i["created_at"])} for i in row.get("items", ())] if with_items else []}


def _with_content(request: web.Request) -> bool:
    unknown = set(request.query) - {"with_content"}
    if unknown:
        raise QueryError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    return request.query.get("with_content", "") == "true"


class AllowlistRoutes:
    def __init__(self, store: AllowlistStore, auth: Callable[[web.Request], str], clock: Callable[[], float]):
        self.store, self.auth, self.clock = store, auth, clock

    def install(self, app: web.Application) -> None:
        app.router.add_get("/v1/allowlists", self.list_)
        app.router.add_get("/v1/allowlists/check/{value:.+}", self.check)      # HEAD too; a range: a/n or a%2Fn
        app.router.add_post("/v1/allowlists/check", self.check_bulk)
        app.router.add_get("/v1/allowlists/{name}", self.get)

    async def list_(self, request: web.Request) -> web.Response:
        self.auth(request)
        with_items = _with_content(request)
        return json_reply([_lapi(r, with_items) for r in self.store.allowlists(self.clock(), with_items=with_items)])

    async def get(self, request: web.Request) -> web.Response:
        self.auth(request)
        with_items = _with_content(request)
        row = self.store.allowlist(request.match_info["name"], self.clock(), with_items=with_items)
        return json_reply(_lapi(row, with_items)) if row is not None else message(404, "allowlist not found")

    async def check(self, request: web.Request) -> web.Response:
        self.auth(request)
        value = request.match_info["value"]
        try:
            allowlist_item(value)
        except AllowlistError:
            raise QueryError(f"{value[:70]!r} is not an IP or a CIDR range") from None
        reasons = self.store.allowlisted_by(value, self.clock())
        if request.method == "HEAD":
            return web.Response(status=200 if reasons else 204)
        return json_reply({"allowlisted": bool(reasons), "reason": ", ".join(reasons)})

    async def check_bulk(self, request: web.Request) -> web.Response:
        self.auth(request)
        try:
            body = json.loads(await read_body(request, _MAX_BULK_BODY))
        except (ValueError, UnicodeDecodeError):
            return message(400, "body: not JSON")
        targets = body.get("targets") if isinstance(body, dict) else None
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
            return message(400, "targets: a non-empty list of IPs or ranges is required")
        if len(targets) > MAX_BULK_TARGETS:
            return message(400, f"targets: at most {MAX_BULK_TARGETS}")
        now = self.clock()
        results = []
        for t in targets:
            reasons = self.store.allowlisted_by(t, now)
            if reasons:
                results.append({"target": t, "allowlists": reasons})
        return json_reply({"results": results})

