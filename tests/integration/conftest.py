"""Fixtures shared by the integration tests: a local HTTP server serving Debian's CrowdSec 1.4.6 hub."""

from __future__ import annotations

import contextlib
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.hubutil import require_hub


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serve(directory):
    """An HTTP server for `directory` on a free loopback port; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def remote(tmp_path):
    """A copy of Debian's hub served over HTTP on a free loopback port: (directory, URL). Tests may change it."""
    root = tmp_path / "remote"
    shutil.copytree(require_hub()["CROWDSEC_HUB"], root)
    with _serve(root) as url:
        yield root, url


@pytest.fixture(scope="session")
def remote_hub():
    """Debian's hub itself served over HTTP for the session (read only: no test may change it): its URL."""
    with _serve(require_hub()["CROWDSEC_HUB"]) as url:
        yield url
