"""Serving the API app so that even a request aiohttp cannot parse (raw non-UTF-8 bytes in the path, a header
over 8 KiB, a bad chunk size, an unknown method) or refuses before the middlewares run (an `Expect` other
than `100-continue`) is answered with CrowdSec's JSON error shape.

aiohttp answers those from `RequestHandler.handle_error` or with an HTTPException's text/plain body (and logs
a traceback, which `connectors.api.server.OneLineErrors` turns into one line). `serve` runs the app like
`web.run_app` with a runner whose connection handler and entry point answer them as `{"message": …}`. A test
of the fuzz suite sends each kind and fails if an aiohttp upgrade changes these hooks.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from http import HTTPStatus

from aiohttp import HttpVersion11, web
from aiohttp.web_protocol import RequestHandler

from connectors.api import replies

__all__ = ["serve", "JsonErrorRunner"]


class _JsonErrorHandler(RequestHandler):
    def handle_error(self, request, status: int = 500, exc=None, message=None):
        super().handle_error(request, status, exc, message)      # logs; refuses when a response began
        first = (message or "").strip().splitlines()
        text = first[0].rstrip(":")[:200] if first and status != 500 else HTTPStatus(status).phrase
        resp = replies.message(status, text)
        resp.force_close()
        return resp


def _outside_middlewares(handle):
    """The app's entry point, answering in JSON what aiohttp decides before the middlewares run: an `Expect`
    other than `100-continue` (aiohttp answers text, and a 500 for a non-UTF-8 value), and any HTTPException
    raised there."""
    async def handler(request):
        expect = request.headers.get("Expect")
        if expect and request.version == HttpVersion11 and expect.lower() != "100-continue":
            return replies.message(417, "Expect: only 100-continue is supported")
        try:
            return await handle(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return replies.message(exc.status, exc.reason)
    return handler


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorRunner(web.AppRunner):
    """An AppRunner whose connections answer unparsable requests with a JSON body."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        if type(server) is not web.Server:   # an aiohttp that builds servers differently: keep its own
            return server
        server.__class__ = _JsonErrorServer   # same state, one overridden factory method
        server.request_handler = _outside_middlewares(server.request_handler)
        return server


async def _serve(app: web.Application, host: str, port: int, ssl_context=None) -> None:
    runner = JsonErrorRunner(app, handle_signals=True, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
        await asyncio.Event().wait()          # until SIGINT/SIGTERM (GracefulExit) cancels this task
    finally:
        await runner.cleanup()


def serve(app: web.Application, host: str, port: int, ssl_context=None) -> None:
    """Serve `app` on host:port (HTTPS with an `ssl.SSLContext`) until SIGINT or SIGTERM, as `web.run_app` does."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(_serve(app, host, port, ssl_context))
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(task)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                loop.run_until_complete(task)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
