"""A small synchronous client of synsec's API, for ccscli (urllib: no extra dependency)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["ApiClient", "ApiError"]


class ApiError(RuntimeError):
    """The API refused a request or could not be reached; the message says which and why."""


class ApiClient:
    def __init__(self, url: str, key: str, timeout: float = 10.0):
        if not url.startswith(("http://", "https://")):
            raise ApiError(f"API URL must start with http:// or https://, got {url!r}")
        self.url, self.key, self.timeout = url.rstrip("/"), key, timeout

    def __repr__(self) -> str:  # the key is a secret
        return f"ApiClient(url={self.url!r}, key='***')"

    def request(self, method: str, path: str, params: dict | None = None, body=None):
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v not in (None, "")})
        req = urllib.request.Request(self.url + path + (f"?{query}" if query else ""), method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"X-Api-Key": self.key, "Content-Type": "application/json",
                                              "User-Agent": "ccscli"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as err:
            try:
                message = json.loads(err.read().decode()).get("message", "")
            except (ValueError, AttributeError):
                message = ""
            raise ApiError(f"{method} {path}: HTTP {err.code}" + (f": {message}" if message else "")) from None
        except urllib.error.URLError as err:
            raise ApiError(f"cannot reach the API at {self.url}: {err.reason}") from None
        return json.loads(text) if text else None
