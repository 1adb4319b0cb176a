"""Bytes from the configured hub only: `http(s)://`, `file://`, a local directory or `builtin` (synsec's own
content); size caps and timeouts."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from synsec.hub.builtin import BUILTIN, builtin_root
from synsec.hub.index import HubError

__all__ = ["fetch", "DEFAULT_HUB_URL", "MAX_ITEM_BYTES", "TIMEOUT_S"]

DEFAULT_HUB_URL = "https://hub-cdn.crowdsec.net/master"
MAX_ITEM_BYTES = 4 * 1024 * 1024
TIMEOUT_S = 30.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Downloads come from the configured hub only: a redirect elsewhere is not followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise HubError(f"{req.full_url}: redirected to {newurl}; not followed")


def fetch(hub_url: str, relpath: str, max_bytes: int = MAX_ITEM_BYTES, timeout: float = TIMEOUT_S) -> bytes:
    """The file `relpath` (already checked by synsec.hub.index) of the hub at `hub_url`, at most `max_bytes`."""
    if hub_url == BUILTIN:
        hub_url = str(builtin_root())
    scheme = urllib.parse.urlsplit(hub_url).scheme
    if scheme in ("http", "https"):
        url = hub_url.rstrip("/") + "/" + urllib.parse.quote(relpath)
        loopback = urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "::1", "localhost")
        opener = urllib.request.build_opener(_NoRedirect, *([urllib.request.ProxyHandler({})] if loopback else []))
        try:
            with opener.open(url, timeout=timeout) as resp:
                data = resp.read(max_bytes + 1)
        except (urllib.error.URLError, OSError) as err:
            raise HubError(f"{url}: {getattr(err, 'reason', err)}") from None
    else:
        base = Path(urllib.parse.unquote(urllib.parse.urlsplit(hub_url).path) if scheme == "file" else hub_url)
        path = base / relpath
        if scheme not in ("", "file") and not os.path.isabs(hub_url):
            raise HubError(f"{hub_url}: unsupported hub URL scheme {scheme!r}")
        try:
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
        except OSError as err:
            raise HubError(f"{path}: {err.strerror}") from None
    if len(data) > max_bytes:
        raise HubError(f"{relpath}: larger than {max_bytes} bytes")
    return data
