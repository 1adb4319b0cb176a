"""A small synchronous client of synsec's API, for ccscli (urllib: no extra dependency)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from synsec.engine.errors import SynsecError

__all__ = ["ApiClient", "ApiError", "scrape"]


class ApiError(SynsecError, RuntimeError):
    """The API refused a request or could not be reached; the message says which and why. `status` is the
    HTTP status when the API answered (0 when it could not be reached)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


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
                text = resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            try:
                message = json.loads(err.read().decode()).get("message", "")
            except (ValueError, AttributeError):
                message = ""
            raise ApiError(f"{method} {path}: HTTP {err.code}" + (f": {message}" if message else ""),
                           err.code) from None
        except urllib.error.URLError as err:
            raise ApiError(f"cannot reach the API at {self.url}: {err.reason}") from None
        try:
            return json.loads(text) if text else None
        except ValueError:
            raise ApiError(f"{method} {path}: the answer is not JSON (is {self.url} synsec's API?)") from None


def scrape(url: str, timeout: float = 10.0, max_bytes: int = 16 << 20) -> str:
    """The text a Prometheus endpoint (`GET URL`, no key) serves; ApiError saying why when it cannot."""
    if not url.startswith(("http://", "https://")):
        raise ApiError(f"metrics URL must start with http:// or https://, got {url!r}")
    req = urllib.request.Request(url, headers={"User-Agent": "ccscli", "Accept": "text/plain"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read(max_bytes + 1)
    except urllib.error.HTTPError as err:
        raise ApiError(f"GET {url}: HTTP {err.code}", err.code) from None
    except (urllib.error.URLError, OSError) as err:
        raise ApiError(f"cannot reach {url}: {getattr(err, 'reason', err)}") from None
    if len(body) > max_bytes:
        raise ApiError(f"GET {url}: more than {max_bytes} bytes of metrics")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(f"GET {url}: the answer is not UTF-8 text") from None
