"""JSON replies in CrowdSec's shape (`{"message": …}` for errors), shared by `synsec api` and `synsec central`:
the reply for a body, for an error message, for a server it needs being unreachable (503 with Retry-After), for
an aiohttp HTTPException, and for a bug (one log line, a 500 without details)."""

from __future__ import annotations

import json
import logging

from aiohttp import web

__all__ = ["json_reply", "message", "unavailable", "http_error", "internal_error"]


def json_reply(data, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


def message(status: int, text: str) -> web.Response:
    return json_reply({"message": text}, status)


def unavailable(text: str, retry_after: float) -> web.Response:
    """A 503: what is missing (a server this one needs), and when to try again (Retry-After, whole seconds)."""
    resp = message(503, text)
    resp.headers["Retry-After"] = str(max(1, round(retry_after)))
    return resp


def http_error(err: web.HTTPException) -> web.Response:
    """An HTTPException aiohttp raised (404, 405, 413…) as a JSON message; a 405 keeps its Allow header."""
    resp = message(err.status, err.reason)
    if "Allow" in err.headers:
        resp.headers["Allow"] = err.headers["Allow"]
    return resp


def internal_error(log: logging.Logger, request: web.Request, err: Exception) -> web.Response:
    """A bug: one bounded log line (never a traceback flood), a 500 that says nothing of the cause."""
    log.error("%s %.200r: internal error: %s: %.200r", request.method, request.path, type(err).__name__, str(err))
    return message(500, "internal server error")
