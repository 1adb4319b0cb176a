"""Fixtures shared by the integration tests: a local HTTP server serving a copy of Debian's CrowdSec 1.4.6 hub."""

from __future__ import annotations

import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.hubutil import require_hub


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def remote(tmp_path):
    """A copy of Debian's hub served over HTTP on a free loopback port: (directory, URL)."""
    root = tmp_path / "remote"
    shutil.copytree(require_hub()["CROWDSEC_HUB"], root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
