"""A Central API client as CrowdSec's LAPI speaks it: register, login (JWT), push signals, pull the community
blocklist (`GET …/decisions/stream`). Version v3 (current CrowdSec) by default; v2 (CrowdSec 1.4.6's) for old
centrals. A v3 answer's grouped decisions are flattened into v2's shape (`flat_stream`), so the caller sees one
shape. Synchronous (urllib), for the crowd's background thread and ccscli. Loopback URLs never go through a
proxy; redirects are not followed; answers are size-bounded."""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from synsec.engine.errors import SynsecError

from connectors.crowd.credentials import Credentials, check_url

__all__ = ["CapiClient", "CapiError", "register", "flat_stream", "VERSIONS", "DEFAULT_VERSION"]

VERSIONS = ("v2", "v3")
DEFAULT_VERSION = "v3"

MAX_ANSWER = 64 << 20           # a blocklist of ~300k entries
_RELOGIN_MARGIN = 60.0          # log in again this long before the token expires


class CapiError(SynsecError):
    """The Central API refused a request or could not be reached; `status` is the HTTP status (0: unreached)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener(url: str) -> urllib.request.OpenerDirector:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    handlers = [_NoRedirect()] + ([urllib.request.ProxyHandler({})] if loopback else [])
    return urllib.request.build_opener(*handlers)


def _request(opener, method: str, url: str, body=None, token: str | None = None, timeout: float = 10.0):
    headers = {"Content-Type": "application/json", "User-Agent": "synsec-crowd/1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, method=method, headers=headers,
                                 data=None if body is None else json.dumps(body).encode())
    path = urllib.parse.urlsplit(url).path
    try:
        with opener.open(req, timeout=timeout) as resp:
            data = resp.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as err:
        try:
            message = json.loads(err.read(4096).decode()).get("message", "")
        except (ValueError, AttributeError, UnicodeDecodeError):
            message = ""
        raise CapiError(f"{method} {path}: HTTP {err.code}" + (f": {str(message)[:200]}" if message else ""),
                        err.code) from None
    except (urllib.error.URLError, OSError) as err:
        raise CapiError(f"cannot reach the Central API at {url}: {getattr(err, 'reason', err)}") from None
    if len(data) > MAX_ANSWER:
        raise CapiError(f"{method} {path}: answer larger than {MAX_ANSWER} bytes")
    try:
        return json.loads(data) if data.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise CapiError(f"{method} {path}: the answer is not JSON") from None


def _version(version: str) -> str:
    if version not in VERSIONS:
        raise ValueError(f"Central API version {version!r}: expected one of {', '.join(VERSIONS)}")
    return version


def register(url: str, machine_id: str, password: str, timeout: float = 10.0,
             version: str = DEFAULT_VERSION) -> str:
    """`POST /v3/watchers` (or v2: what `cscli capi register` does); the server's message."""
    url = check_url(url)
    answer = _request(_opener(url), "POST", f"{url}{_version(version)}/watchers",
                      {"machine_id": machine_id, "password": password}, timeout=timeout)
    return str(answer.get("message", "")) if isinstance(answer, dict) else ""


class CapiClient:
    """One watcher's session: logs in when needed (and again after a 401), then pushes and pulls."""

    def __init__(self, creds: Credentials, scenarios: list[str] | tuple[str, ...] | None = None, *,
                 timeout: float = 10.0, clock: Callable[[], float] = time.time, version: str = DEFAULT_VERSION):
        # None (ccscli's sessions): the login sends no `scenarios`, so central keeps those the installation sent
        self.scenarios = None if scenarios is None else sorted(set(scenarios))
        self.creds, self.timeout, self.clock = creds, timeout, clock
        self.version = _version(version)
        self._opener = _opener(creds.url)
        self._token: str | None = None
        self._token_until = 0.0

    def __repr__(self) -> str:
        return f"CapiClient(url={self.creds.url!r}, login={self.creds.login!r}, version={self.version!r})"

    def login(self) -> str:
        answer = _request(self._opener, "POST", f"{self.creds.url}{self.version}/watchers/login",
                          {"machine_id": self.creds.login, "password": self.creds.password,
                           **({} if self.scenarios is None else {"scenarios": self.scenarios})},
                          timeout=self.timeout)
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise CapiError(f"POST /{self.version}/watchers/login: no token in the answer")
        self._token = token
        self._token_until = self.clock() + _token_ttl(answer.get("expire"), self.clock())
        return token

    def _call(self, method: str, path: str, body=None):
        path = f"{self.version}/{path}"
        if self._token is None or self.clock() >= self._token_until - _RELOGIN_MARGIN:
            self.login()
        try:
            return _request(self._opener, method, self.creds.url + path, body, self._token, self.timeout)
        except CapiError as err:
            if err.status != 401:
                raise
        self.login()                                   # the token was refused (central restarted, rotated)
        return _request(self._opener, method, self.creds.url + path, body, self._token, self.timeout)

    def push(self, signals: list[dict]) -> None:
        """`POST …/signals` with one batch."""
        self._call("POST", "signals", signals)

    def pull(self, startup: bool) -> tuple[list, list]:
        """`GET …/decisions/stream`: (new, deleted) flat decisions (v2's shape; checked by the caller). v3 asks
        for the community blocklist only (`additional_pull=false`: synsec pulls no other list)."""
        if self.version == "v2":
            query = "startup=" + ("true" if startup else "false")
        else:
            query = ("startup=true&" if startup else "") + "additional_pull=false"
        answer = self._call("GET", "decisions/stream?" + query)
        where = f"GET /{self.version}/decisions/stream"
        if not isinstance(answer, dict):
            raise CapiError(f"{where}: the answer is not a JSON object")
        new, deleted = answer.get("new") or [], answer.get("deleted") or []
        if not isinstance(new, list) or not isinstance(deleted, list):
            raise CapiError(f"{where}: new and deleted must be lists")
        return (new, deleted) if self.version == "v2" else flat_stream(new, deleted)

    def crowd_explain(self, ip: str) -> dict:
        """synsec central's `GET …/crowd/explain`: why `ip` is or is not listed (`ccscli crowd explain`)."""
        return self._object("crowd/explain?" + urllib.parse.urlencode({"ip": ip}))

    def crowd_status(self) -> dict:
        """synsec central's `GET …/crowd/status`: reporters, signals/s, list size (`ccscli crowd status`)."""
        return self._object("crowd/status")

    def _object(self, path: str) -> dict:
        answer = self._call("GET", path)
        if not isinstance(answer, dict):
            raise CapiError(f"GET /{self.version}/{path.split('?')[0]}: the answer is not a JSON object (is this "
                            "synsec central?)")
        return answer


def flat_stream(new: list, deleted: list) -> tuple[list, list]:
    """A v3 stream's groups as flat decisions: each `new` group's {value, duration} gets its scenario and scope
    (type ban, as CrowdSec does); each `deleted` group's value its scope. A malformed group or item becomes one
    None, which `apply_stream` counts as malformed."""
    def groups(items: list):
        for group in items:
            decisions = group.get("decisions") if isinstance(group, dict) else None
            if not isinstance(decisions, list):
                yield None, None
                continue
            for item in decisions:
                yield group, item

    flat_new = [None if g is None or not isinstance(d, dict) else
                {"scenario": g.get("scenario"), "scope": g.get("scope"), "type": "ban", "value": d.get("value"),
                 "duration": d.get("duration")} for g, d in groups(new)]
    flat_deleted = [None if g is None or not isinstance(d, str) else
                    {"scenario": "deleted", "scope": g.get("scope"), "type": "ban", "value": d, "duration": "1h"}
                    for g, d in groups(deleted)]
    return flat_new, flat_deleted


def _token_ttl(expire, now: float) -> float:
    """Seconds the token lives by the answer's RFC 3339 `expire` (an hour when unreadable, CAPI's own TTL)."""
    from datetime import datetime

    try:
        return max(0.0, datetime.fromisoformat(str(expire).replace("Z", "+00:00")).timestamp() - now)
    except ValueError:
        return 3600.0
