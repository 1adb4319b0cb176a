"""Malformed and random HTTP requests against a real `synsec api` on a free loopback port (issue 10, findings
B and D): every error is a 4xx with a JSON `{"message": …}` body and no traceback, nothing is ever a 5xx, the
server stays up and its log never holds a traceback.

Requests are written on a raw socket, so non-UTF-8 bytes, unknown methods and oversized headers reach the
server as sent. CI mode is bounded (Hypothesis derandomized, 600 random requests and 300 random `POST /v1/alerts`
bodies from a logged-in machine: about 15 s on a loaded 2-core machine); `SYNSEC_FUZZ_LONG=1` (make fuzz) sends
20,000 and 10,000, not derandomized. The number of
requests sent is printed at the end of the module and recorded as the `fuzz_api_requests` property.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from dataclasses import dataclass
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_api_http import ccs, running_api

pytestmark = pytest.mark.integration

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
RANDOM_EXAMPLES = 20_000 if LONG else 600
ALERT_EXAMPLES = 10_000 if LONG else 300
MACHINE_PASSWORD = "fuzz-machine-password-0123456789"
SENT = {"requests": 0}
ALERT_REPLIES: dict[int, int] = {}      # status -> count, of the random alert batches
ABSURD = "9" * 400 + "h"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def message(self) -> str:
        """The `message` of a JSON error body (fails the test for any other shape)."""
        assert self.headers.get("content-type", "").startswith("application/json"), (self.status, self.body)
        data = json.loads(self.body)
        assert isinstance(data, dict) and isinstance(data.get("message"), str), self.body
        return data["message"]


def send(url: str, method: bytes | str = b"GET", target: bytes | str = b"/", headers=(), body: bytes = b"",
         *, raw: bytes | None = None) -> Reply:
    """One request on a fresh connection (`Connection: close`), bytes as given; the reply read to EOF."""
    SENT["requests"] += 1
    as_bytes = (lambda v: v if isinstance(v, bytes) else v.encode("utf-8"))
    if raw is None:
        lines = [as_bytes(method) + b" " + as_bytes(target) + b" HTTP/1.1", b"Host: 127.0.0.1"]
        lines += [as_bytes(k) + b": " + as_bytes(v) for k, v in headers]
        if body or as_bytes(method) in (b"POST", b"PUT", b"PATCH"):
            lines.append(b"Content-Length: " + str(len(body)).encode())
        raw = b"\r\n".join(lines + [b"Connection: close", b"", b""]) + body
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(raw)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100 "):              # interim `100 Continue` before the answer
        head, _, payload = payload.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    assert status_line.startswith(b"HTTP/"), f"no HTTP reply: {head[:200]!r}"
    hdrs = {}
    for line in header_lines:
        k, _, v = line.partition(b":")
        hdrs[k.decode("latin-1").strip().lower()] = v.decode("latin-1").strip()
    return Reply(int(status_line.split()[1]), hdrs, payload)


def assert_clean(reply: Reply, *, expect: int | tuple[int, ...] | None = None, head: bool = False) -> None:
    """Never a 5xx; an error is a JSON message (no body for HEAD) without traceback text; `expect` pins the
    status."""
    assert reply.status < 500, (reply.status, reply.body[:300])
    assert b"Traceback" not in reply.body and b'File "' not in reply.body
    if reply.status >= 400 and not head:
        reply.message()
    if expect is not None:
        assert reply.status in ((expect,) if isinstance(expect, int) else expect), (reply.status, reply.body[:300])


@pytest.fixture(scope="module")
def api(tmp_path_factory, record_testsuite_property):
    """A real `synsec api` (throttling out of the way: its own test has its own server) with a machine key, a
    bouncer key, 20 decisions (ids 1-20) and a logged-in machine (`keys["token"]`: its bearer token)."""
    state = tmp_path_factory.mktemp("fuzz") / "state"
    keys = {"machine": ccs(state, "bouncers", "add", "admin", "--role", "machine", "-o", "raw").strip(),
            "bouncer": ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()}
    for i in range(20):
        ccs(state, "decisions", "add", "--ip", f"198.51.100.{i + 1}", "-d", "4h")
    ccs(state, "machines", "add", "agent", "--password", MACHINE_PASSWORD)
    log = state.parent / "api.log"
    with running_api(state, log, args=("--refresh-interval", "0.05", "--auth-fail-limit", "1000000")) as url:
        reply = send(url, "POST", "/v1/watchers/login", [("Content-Type", "application/json")],
                     json.dumps({"machine_id": "agent", "password": MACHINE_PASSWORD}).encode())
        assert reply.status == 200, reply.body
        keys["token"] = json.loads(reply.body)["token"]
        yield url, keys, state
        assert send(url, "GET", "/health").status == 200           # still up after everything
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    print(f"\nfuzz_api: {SENT['requests']} requests sent; random alert batches: {ALERT_REPLIES}")
    if ALERT_REPLIES:       # the random batches reached both outcomes: stored, and refused
        assert ALERT_REPLIES.get(201, 0) >= 10 and ALERT_REPLIES.get(400, 0) >= 10, ALERT_REPLIES
    record_testsuite_property("fuzz_api_requests", SENT["requests"])


def lapi_values(url: str, key: str) -> dict[int, str]:
    reply = send(url, "GET", "/v1/decisions", [("X-Api-Key", key)])
    assert reply.status == 200
    return {d["id"]: d["value"] for d in json.loads(reply.body) or []}


# -- the table: each finding of issue 10 and more, each with the status it must get -----------------------

M, B, T = "machine", "bouncer", "token"
NESTED = b"[" * 5000 + b"]" * 5000
TABLE = [
    # (name, key, method, target, extra headers, body, expected status)
    ("non-utf8 api key (unauthenticated)", b"\xff\xfe\xfd", "GET", "/v1/decisions", [], b"", 403),
    ("latin-1 api key", "clé".encode("latin-1"), "GET", "/v1/decisions/stream", [], b"", 403),
    ("huge api key", "k" * 8000, "GET", "/v1/decisions", [], b"", 403),
    ("empty api key", "", "GET", "/v1/decisions", [], b"", 403),
    ("bouncer key on machine route", B, "POST", "/v1/decisions", [], b'[{"value": "192.0.2.1"}]', 403),
    ("limit above 2^63", M, "GET", "/v1/alerts?limit=9223372036854775808", [], b"", 400),
    ("limit superscript two", M, "GET", "/v1/alerts?limit=%C2%B2", [], b"", 400),
    ("limit arabic-indic digits", M, "GET", "/v1/alerts?limit=%D9%A1%D9%A7", [], b"", 400),
    ("limit 5000 digits", M, "GET", "/v1/alerts?limit=" + "9" * 5000, [], b"", 400),
    ("limit negative", M, "GET", "/v1/alerts?limit=-1", [], b"", 400),
    ("unknown alerts parameter", M, "GET", "/v1/alerts?colour=red", [], b"", 400),
    ("delete id superscript two", M, "DELETE", "/v1/decisions/%C2%B2", [], b"", 400),
    ("delete id arabic-indic 17", M, "DELETE", "/v1/decisions/%D9%A1%D9%A7", [], b"", 400),
    ("delete id above 2^63", M, "DELETE", "/v1/decisions/9223372036854775808", [], b"", 400),
    ("delete id 5000 digits", M, "DELETE", "/v1/decisions/" + "1" * 5000, [], b"", 400),
    ("delete id text", M, "DELETE", "/v1/decisions/abc", [], b"", 400),
    ("delete id percent-encoded non-utf8", M, "DELETE", "/v1/decisions/%ff%fe", [], b"", 400),
    ("delete without filter", M, "DELETE", "/v1/decisions", [], b"", 400),
    ("delete unknown filter", M, "DELETE", "/v1/decisions?everything=1", [], b"", 400),
    ("delete by a bad ip", M, "DELETE", "/v1/decisions?ip=1.2.3", [], b"", 400),
    ("delete by an ip with zone id", M, "DELETE", "/v1/decisions?ip=fe80::1%25eth0", [], b"", 400),
    ("delete alerts without filter", M, "DELETE", "/v1/alerts", [], b"", 400),
    ("JSON nested 5000 deep", M, "POST", "/v1/decisions", [], NESTED, 400),
    ("JSON objects nested 5000 deep", M, "POST", "/v1/decisions", [], b'{"a":' * 5000 + b"1" + b"}" * 5000, 400),
    ("JSON NaN", M, "POST", "/v1/decisions", [], b'[{"value": "192.0.2.1", "duration": NaN}]', 400),
    ("JSON Infinity", M, "POST", "/v1/decisions", [], b'[{"value": Infinity}]', 400),
    ("JSON 5000-digit number", M, "POST", "/v1/decisions", [], b'[{"value": ' + b"1" * 5000 + b"}]", 400),
    ("JSON 1e999", M, "POST", "/v1/decisions", [], b'[{"value": "192.0.2.1", "duration": 1e999}]', 400),
    ("JSON object not list", M, "POST", "/v1/decisions", [], b'{"value": "192.0.2.1"}', 400),
    ("JSON empty list", M, "POST", "/v1/decisions", [], b"[]", 400),
    ("JSON list of numbers", M, "POST", "/v1/decisions", [], b"[1, 2]", 400),
    ("JSON string", M, "POST", "/v1/decisions", [], b'"192.0.2.1"', 400),
    ("JSON null", M, "POST", "/v1/decisions", [], b"null", 400),
    ("value is a number", M, "POST", "/v1/decisions", [], b'[{"value": 3221225985}]', 400),
    ("value is a list", M, "POST", "/v1/decisions", [], b'[{"value": ["192.0.2.1"]}]', 400),
    ("duration is a number", M, "POST", "/v1/decisions", [], b'[{"value": "192.0.2.1", "duration": 3600}]', 400),
    ("duration 400 nines", M, "POST", "/v1/decisions", [],
     json.dumps([{"value": "192.0.2.1", "duration": ABSURD}]).encode(), 400),
    ("duration above 10 years", M, "POST", "/v1/decisions", [], b'[{"value": "192.0.2.1", "duration": "87601h"}]',
     400),
    ("duration negative", M, "POST", "/v1/decisions", [], b'[{"value": "192.0.2.1", "duration": "-4h"}]', 400),
    ("duration arabic-indic digits", M, "POST", "/v1/decisions", [],
     '[{"value": "192.0.2.1", "duration": "١٧h"}]'.encode(), 400),
    ("ip with zone id", M, "POST", "/v1/decisions", [], b'[{"value": "fe80::1%eth0"}]', 400),
    ("range with zone id", M, "POST", "/v1/decisions", [], b'[{"value": "fe80::%eth0/64", "scope": "Range"}]', 400),
    ("ip arabic-indic digits", M, "POST", "/v1/decisions", [], '[{"value": "١٩٢.٠.٢.١"}]'.encode(), 400),
    ("reason with control characters", M, "POST", "/v1/decisions", [],
     b'[{"value": "192.0.2.1", "reason": "a\\u001b[2Jb"}]', 400),
    ("reason 100 KB", M, "POST", "/v1/decisions", [],
     json.dumps([{"value": "192.0.2.1", "reason": "x" * 100_000}]).encode(), 400),
    ("origin not allowed", M, "POST", "/v1/decisions", [], b'[{"value": "192.0.2.1", "origin": "CAPI"}]', 400),
    ("unknown decision field", M, "POST", "/v1/decisions", [], b'[{"value": "192.0.2.1", "until": 1}]', 400),
    ("body not utf-8", M, "POST", "/v1/decisions", [], b'[{"value": "\xff"}]', 400),
    ("body empty", M, "POST", "/v1/decisions", [], b"", 400),
    ("body over 1 MiB", M, "POST", "/v1/decisions", [], b"[" + b" " * (1024 * 1024 + 10) + b"]", 413),
    ("form content-type and body", M, "POST", "/v1/decisions",
     [("Content-Type", "application/x-www-form-urlencoded")], b"value=192.0.2.1", 400),
    ("multipart content-type", M, "POST", "/v1/decisions", [("Content-Type", "multipart/form-data; boundary=x")],
     b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--x--\r\n", 400),
    ("bad ip parameter", B, "GET", "/v1/decisions?ip=1.2.3", [], b"", 400),
    ("ip parameter with zone id", B, "GET", "/v1/decisions?ip=fe80::1%25eth0", [], b"", 400),
    ("bad range parameter", B, "GET", "/v1/decisions?range=192.0.2.0/99", [], b"", 400),
    ("ip and range", B, "GET", "/v1/decisions?ip=192.0.2.1&range=192.0.2.0/24", [], b"", 400),
    ("contains not a boolean", B, "GET", "/v1/decisions?contains=maybe", [], b"", 400),
    ("unknown decisions parameter", B, "GET", "/v1/decisions?limit=1", [], b"", 400),
    ("startup not a boolean", B, "GET", "/v1/decisions/stream?startup=yes", [], b"", 400),
    ("startup arabic-indic one", B, "GET", "/v1/decisions/stream?startup=%D9%A1", [], b"", 400),
    ("community_pull not a boolean", B, "GET", "/v1/decisions/stream?community_pull=2", [], b"", 400),
    ("unknown stream parameter", B, "GET", "/v1/decisions/stream?type=ban", [], b"", 400),
    ("query percent-encoded non-utf8", B, "GET", "/v1/decisions?scope=%ff", [], b"", (200, 400)),
    ("query key non-utf8", B, "GET", "/v1/decisions?%ff=1", [], b"", 400),
    ("query 8 KB", B, "GET", "/v1/decisions?scope=" + "a" * 8000, [], b"", (200, 400)),
    ("alert id percent-encoded non-utf8", M, "GET", "/v1/alerts/%ff", [], b"", (400, 404)),
    ("alert id NUL", M, "GET", "/v1/alerts/%00", [], b"", 404),
    ("unknown alert", M, "DELETE", "/v1/alerts/nope", [], b"", 404),
    ("unknown route", B, "GET", "/v2/decisions", [], b"", 404),
    ("path traversal", B, "GET", "/v1/../../etc/passwd", [], b"", 404),
    ("PUT decisions", M, "PUT", "/v1/decisions", [], b"[]", 405),
    ("PATCH decisions", M, "PATCH", "/v1/decisions", [], b"[]", 405),
    ("POST health", None, "POST", "/health", [], b"", 405),
    ("DELETE stream with a bouncer key", B, "DELETE", "/v1/decisions/stream", [], b"", 403),
    ("DELETE stream with a machine key", M, "DELETE", "/v1/decisions/stream", [], b"", 400),
    ("unknown method", B, "FROB", "/v1/decisions", [], b"", (400, 405, 501)),
    ("lowercase method", B, "get", "/v1/decisions", [], b"", (400, 405)),
    ("header line over 8 KB", B, "GET", "/v1/decisions", [("X-Big", "a" * 20_000)], b"", (400, 431)),
    ("200 headers", B, "GET", "/v1/decisions", [(f"X-H{i}", "v") for i in range(200)], b"", (200, 400, 431)),
    ("non-utf8 user agent", B, "GET", "/v1/decisions/stream?startup=true", [("User-Agent", b"\xff\xfe")], b"",
     200),
    ("control chars in user agent", B, "GET", "/v1/decisions/stream", [("User-Agent", b"a\x01b")], b"",
     (200, 400)),
    ("Expect 100-continue still works", M, "POST", "/v1/decisions", [("Expect", "100-Continue")],
     b'[{"value": "192.0.2.100"}]', 201),
    ("unknown Expect", B, "GET", "/v1/decisions", [("Expect", "!")], b"", 417),
    ("unknown Expect on an unknown route", B, "GET", "/nope", [("Expect", "!")], b"", 417),
    ("non-utf8 Expect", B, "GET", "/v1/decisions", [("Expect", b"\x80")], b"", 417),
    ("raw non-utf8 path", B, "GET", b"/v1/decisions/\xff", [], b"", 400),
    ("raw non-utf8 query", B, "GET", b"/v1/decisions?scope=\xff", [], b"", 400),
    ("path 10 KB", B, "GET", "/v1/" + "a" * 10_000, [], b"", (400, 404, 414)),
    # the machine routes (issue 14): T is the logged-in machine's bearer token
    ("alerts without a token", None, "POST", "/v1/alerts", [], b"[]", 401),
    ("alerts with a machine key, no token", M, "POST", "/v1/alerts", [], b"[]", 401),
    ("alerts with a garbage token", None, "POST", "/v1/alerts", [("Authorization", "Bearer x.y.z")], b"[]", 401),
    ("alerts with a non-utf8 token", None, "POST", "/v1/alerts", [("Authorization", b"Bearer \xff\xfe")], b"[]", 401),
    ("alerts with a 20 KB token", None, "POST", "/v1/alerts", [("Authorization", "Bearer " + "a" * 7000)], b"[]",
     401),
    ("alerts non-JSON", T, "POST", "/v1/alerts", [], b"<xml/>", 400),
    ("alerts with a lone surrogate", T, "POST", "/v1/alerts", [], b'[{"scenario": "\\ud800"}]', 400),
    ("decision reason with a lone surrogate", M, "POST", "/v1/decisions", [],
     b'[{"value": "192.0.2.1", "reason": "a\\udc00"}]', 400),
    ("alerts nested 5000 deep", T, "POST", "/v1/alerts", [], NESTED, 400),
    ("alerts JSON object", T, "POST", "/v1/alerts", [], b'{"scenario": "x"}', 400),
    ("alerts over 16 MiB", T, "POST", "/v1/alerts", [], b"[" + b" " * (16 * 1024 * 1024 + 10) + b"]", 413),
    ("heartbeat without a token", None, "GET", "/v1/heartbeat", [], b"", 401),
    ("refresh without a token", None, "GET", "/v1/refresh_token", [], b"", 401),
    ("login not JSON", None, "POST", "/v1/watchers/login", [], b"machine_id=a", 400),
    ("login unknown field", None, "POST", "/v1/watchers/login", [], b'{"machine_id": "a", "password": "b", "x": 1}',
     400),
    ("login machine_id not a string", None, "POST", "/v1/watchers/login", [], b'{"machine_id": 1, "password": "b"}',
     400),
    ("login password 100 KB", None, "POST", "/v1/watchers/login", [],
     json.dumps({"machine_id": "agent", "password": "p" * 100_000}).encode(), 400),
    ("login scenarios not a list", None, "POST", "/v1/watchers/login", [],
     b'{"machine_id": "agent", "password": "b", "scenarios": "a"}', 400),
    ("login wrong password", None, "POST", "/v1/watchers/login", [], b'{"machine_id": "agent", "password": "b"}',
     403),
    ("register when disabled", None, "POST", "/v1/watchers", [], b'{"machine_id": "x", "password": "y"}', 403),
    ("usage-metrics not an object", T, "POST", "/v1/usage-metrics", [], b"[1]", 400),
    ("GET alerts with a token and a bad range", T, "GET", "/v1/alerts?range=10.0.0.0/99", [], b"", 400),
]


@pytest.mark.parametrize("name, key, method, target, headers, body, expect", TABLE, ids=[t[0] for t in TABLE])
def test_malformed_request_gets_json_4xx(api, name, key, method, target, headers, body, expect):
    """Regression (issue 10 B/D): each malformed request gets its 4xx with a JSON message, never a 5xx (and
    the few well-formed neighbours in the table their 2xx)."""
    url, keys, _ = api
    hdrs = list(headers)
    if key == T:
        hdrs.append(("Authorization", f"Bearer {keys[T]}"))
    elif key is not None:
        hdrs.append(("X-Api-Key", keys.get(key, key) if isinstance(key, str) else key))
    assert_clean(send(url, method, target, hdrs, body), expect=expect)


def test_announced_oversize_alert_batch_is_413_at_once(api):
    """A `POST /v1/alerts` announcing 64 MiB gets its 413 (JSON) before any of the body is sent: the server
    does not read what it would refuse."""
    url, keys, _ = api
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"POST /v1/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {keys[T]}\r\n"
                  f"Content-Length: {64 * 1024 * 1024}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and json.loads(body)["message"]


RAW = [
    ("garbage request line", b"GARBAGE\r\n\r\n"),
    ("HTTP/0.9 request", b"GET /v1/decisions\r\n\r\n"),      # aiohttp reads it as HTTP/0.9: 403, no key
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ("bad chunk size", b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\nzz\r\n"),
    ("content-length not a number", b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Length: \xd9\xa3\r\n"
                                    b"Connection: close\r\n\r\nabc"),
    ("two content-lengths", b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
                            b"Connection: close\r\n\r\nab"),
    ("header without colon", b"GET /health HTTP/1.1\r\nHost: x\r\nnocolon\r\nConnection: close\r\n\r\n"),
    ("NUL in header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\nConnection: close\r\n\r\n"),
]


@pytest.mark.parametrize("name, raw", RAW, ids=[r[0] for r in RAW])
def test_unparsable_request_gets_json_400(api, name, raw):
    """Regression (issue 10 B/D): a request aiohttp cannot parse is still a 4xx with a JSON message."""
    url, _, _ = api
    assert_clean(send(url, raw=raw), expect=(400, 403) if name.startswith("HTTP/0.9") else 400)


def test_arabic_indic_id_deletes_nothing(api):
    """Regression (issue 10 B): `DELETE /v1/decisions/١٧` is a 400 and decision 17 is still there."""
    url, keys, _ = api
    before = lapi_values(url, keys["bouncer"])
    assert 17 in before
    assert_clean(send(url, "DELETE", "/v1/decisions/" + quote_from_bytes("١٧".encode()),
                      [("X-Api-Key", keys["machine"])]), expect=400)
    assert lapi_values(url, keys["bouncer"]) == before


def test_ipv4_mapped_ban_is_stored_as_ipv4(api):
    """Regression (issue 10 B): a ban on `::ffff:192.0.2.205` is stored and served as 192.0.2.205, and a delete
    by the mapped address removes it."""
    url, keys, _ = api
    reply = send(url, "POST", "/v1/decisions", [("X-Api-Key", keys["machine"])],
                 b'[{"value": "::ffff:192.0.2.205", "duration": "1h"}]')
    assert_clean(reply, expect=201)
    [num] = json.loads(reply.body)["ids"]
    assert lapi_values(url, keys["bouncer"])[num] == "192.0.2.205"
    reply = send(url, "DELETE", "/v1/decisions?ip=::ffff:192.0.2.205", [("X-Api-Key", keys["machine"])])
    assert_clean(reply, expect=200)
    assert json.loads(reply.body) == {"nbDeleted": "1"} and num not in lapi_values(url, keys["bouncer"])


def test_infinite_decision_in_store_never_stops_bouncers(api):
    """Regression (issue 10 A): with a decision whose `until` is infinite in the store (written before durations
    were bounded), /v1/decisions and the stream answer 200 for bouncers, also after the decision is deleted."""
    url, keys, state = api
    db = sqlite3.connect(state / "synsec.db")
    with db:
        db.execute("INSERT INTO decisions (id, origin, scenario, scope, value, type, duration, until, simulated, "
                   "created_at) VALUES ('inf-1', 'ccscli', 'old', 'Ip', '203.0.113.9', 'ban', ?, ?, 0, 0)",
                   (float("inf"), float("inf")))
    db.close()
    bouncer = [("X-Api-Key", keys["bouncer"])]
    deadline = time.monotonic() + 5                  # the API reads the store's change log every 0.05 s
    while "203.0.113.9" not in lapi_values(url, keys["bouncer"]).values():
        assert time.monotonic() < deadline, "the API never read the row"
        time.sleep(0.05)
    for target in ("/v1/decisions", "/v1/decisions/stream?startup=true", "/v1/decisions?ip=203.0.113.9"):
        assert_clean(send(url, "GET", target, bouncer), expect=200)
    assert_clean(send(url, "DELETE", "/v1/decisions?ip=203.0.113.9", [("X-Api-Key", keys["machine"])]), expect=200)
    for target in ("/v1/decisions", "/v1/decisions/stream?startup=true", "/v1/decisions/stream"):
        assert_clean(send(url, "GET", target, bouncer), expect=200)
    metrics = send(url, "GET", "/metrics").body.decode()
    assert "synsec_api_decisions_out_of_range" in metrics


def test_absurd_duration_added_by_ccscli_is_refused(api):
    """Regression (issue 10 A): `ccscli decisions add -d <400 nines>h` over the API fails with a clear error
    and adds nothing."""
    from click.testing import CliRunner

    from synsec.cli.ccscli import ccscli

    url, keys, state = api
    before = lapi_values(url, keys["bouncer"])
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), "decisions", "--api-url", url, "--api-key",
                                      keys["machine"], "add", "--ip", "192.0.2.77", "-d", ABSURD])
    assert res.exit_code != 0 and "invalid duration" in res.output
    assert lapi_values(url, keys["bouncer"]) == before


# -- random requests ---------------------------------------------------------------------------------------

ROUTES = ["/v1/decisions", "/v1/decisions/stream", "/v1/decisions/1", "/v1/alerts", "/v1/alerts/x", "/health",
          "/metrics", "/", "/v1/watchers", "/v1/watchers/login", "/v1/heartbeat", "/v1/refresh_token",
          "/v1/usage-metrics"]
PARAMS = ["ip", "range", "scope", "value", "type", "origins", "scopes", "scenarios_containing",
          "scenarios_not_containing", "contains", "startup", "limit", "scenario", "community_pull", "origin"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["value", "scope", "type", "duration", "reason", "origin", "x"]) | st.text(max_size=5), inner, max_size=5),
    max_leaves=12)
segment = st.binary(max_size=12).map(lambda b: quote_from_bytes(b, safe=b""))
targets = st.builds(
    lambda route, extra, params: route + extra + ("?" + "&".join(params) if params else ""),
    st.sampled_from(ROUTES), st.sampled_from(["", ""]) | segment.map(lambda s: "/" + s),
    st.lists(st.builds(lambda k, v: f"{k}={v}", st.sampled_from(PARAMS) | segment, segment
                       | st.sampled_from(["true", "1", "192.0.2.1", "10.0.0.0/8", "١٧", "²", "9" * 25, "ip,range"])),
             max_size=4))
bodies = (st.just(b"") | st.binary(max_size=64)
          | json_values.map(lambda v: json.dumps(v, allow_nan=True).encode())
          | st.lists(json_values, min_size=1, max_size=3).map(lambda v: json.dumps(v, allow_nan=True).encode()))
methods = st.sampled_from(["GET", "HEAD", "POST", "DELETE", "PUT", "OPTIONS"]) | st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8)
key_choice = st.sampled_from(["machine", "bouncer", "none", "token"]) | st.binary(min_size=1, max_size=40)
# no CR/LF (they would end the header block of our own request) and no Content-Length/Transfer-Encoding
# (a body that does not match them makes the server wait for the rest, as it should)
header_values = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
extra_headers = st.lists(st.tuples(
    st.sampled_from(["User-Agent", "Content-Type", "Accept", "X-Forwarded-For", "Expect", "Host", "Connection",
                     "Accept-Encoding", "Range"]) | st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12),
    header_values), max_size=3)


@settings(max_examples=RANDOM_EXAMPLES, deadline=None, derandomize=not LONG, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(method=methods, target=targets, key=key_choice, body=bodies, extra=extra_headers)
def test_random_requests_never_5xx(api, method, target, key, body, extra):
    """Random methods, paths, query strings, keys, headers and bodies (JSON or bytes): never a 5xx, errors in
    JSON."""
    url, keys, _ = api
    headers = [] if key == "none" else [("Authorization", f"Bearer {keys[key]}")] if key == "token" else \
        [("X-Api-Key", keys[key] if isinstance(key, str) else key)]
    assert_clean(send(url, method, target, headers + extra, body), head=method == "HEAD")


# -- random alert batches from a logged-in machine (issue 14) ----------------------------------------------

def _agent_alert(ip: str) -> dict:
    """An alert as CrowdSec 1.4.6 agents push it."""
    return {"capacity": 5, "decisions": None, "events_count": 6, "labels": None, "leakspeed": "10s",
            "message": f"Ip {ip} performed 'crowdsecurity/http-probing'", "remediation": True,
            "scenario": "crowdsecurity/http-probing", "scenario_hash": "ab" * 32, "scenario_version": "0.4",
            "simulated": False, "start_at": "2026-11-22T10:01:00.5Z", "stop_at": "2026-11-22T10:01:04Z",
            "source": {"as_name": "", "as_number": "", "cn": "", "ip": ip, "latitude": 0, "longitude": 0, "range": "",
                       "scope": "Ip", "value": ip},
            "events": [{"meta": [{"key": "source_ip", "value": ip}], "timestamp": "2026-11-22T10:01:04Z"}]}


ALERT_KEYS = sorted(_agent_alert("192.0.2.1")) + ["id", "uuid", "meta", "machine_id", "bogus"]
SOURCE_KEYS = ["scope", "value", "ip", "range", "as_number", "cn", "latitude", "longitude", "x"]
odd_values = (json_values | st.sampled_from([
    "", "1.2.3", "::ffff:192.0.2.9", "fe80::1%eth0", "10.0.0.0/8", "2026-11-22T10:01:04Z", "yesterday", "4h",
    "99999999h", "Range", "Ip", "a\u0000b", "\ud800", "x" * 5000, 2 ** 31, -1, 1e308, True]) | st.lists(
    st.fixed_dictionaries({"key": st.text(max_size=8), "value": st.text(max_size=8)}), max_size=3))
ips = st.sampled_from(["192.0.2.1", "10.0.0.1", "2001:db8::1", "::ffff:198.51.100.3", "127.0.0.1", "0.0.0.0"]) \
    | st.ip_addresses().map(str)


def _mutated(ip: str, changes: dict, drops: list, source_changes: dict, decisions) -> dict:
    a = _agent_alert(ip)
    a.update(changes)
    for k in drops:
        a.pop(k, None)
    if isinstance(a.get("source"), dict):
        a["source"] = {**a["source"], **source_changes}
    if decisions is not None:
        a["decisions"] = decisions
    return a


agent_alerts = st.builds(
    _mutated, ips, st.dictionaries(st.sampled_from(ALERT_KEYS), odd_values, max_size=2),
    st.lists(st.sampled_from(ALERT_KEYS), max_size=2),
    st.dictionaries(st.sampled_from(SOURCE_KEYS), odd_values, max_size=2),
    st.none() | st.lists(st.dictionaries(st.sampled_from(["value", "scope", "type", "duration", "origin", "until"]),
                                         odd_values, max_size=4), max_size=2))
alert_bodies = (st.lists(agent_alerts, min_size=1, max_size=3).map(lambda v: json.dumps(v, allow_nan=True).encode())
                | json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()) | st.binary(max_size=64))


@settings(max_examples=ALERT_EXAMPLES, deadline=None, derandomize=not LONG, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(body=alert_bodies)
def test_random_alert_batches_never_5xx(api, body):
    """Alerts as agents push them with random fields changed, dropped or added (bad types, addresses, times,
    sizes, decisions), and random JSON or bytes: 201 with one id per alert, or a 400 with a JSON message."""
    url, keys, _ = api
    reply = send(url, "POST", "/v1/alerts", [("Authorization", f"Bearer {keys[T]}")], body)
    assert_clean(reply, expect=(201, 400))
    ALERT_REPLIES[reply.status] = ALERT_REPLIES.get(reply.status, 0) + 1
    if reply.status == 201:
        assert len(json.loads(reply.body)) == len(json.loads(body))


def test_failed_keys_are_throttled(tmp_path):
    """Regression (issue 10 B): after --auth-fail-limit wrong keys an address gets 429 with Retry-After (even
    with a right key) instead of unlimited guesses; /health still answers."""
    state = tmp_path / "state"
    good = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()
    with running_api(state, args=("--auth-fail-limit", "20", "--auth-fail-window", "60")) as url:
        replies = [send(url, "GET", "/v1/decisions", [("X-Api-Key", f"wrong-{i}")]) for i in range(60)]
        for r in replies:
            assert_clean(r)
        assert [r.status for r in replies[:20]] == [403] * 20
        assert {r.status for r in replies[20:]} == {429}
        assert 0 < int(replies[-1].headers["retry-after"]) <= 60
        assert send(url, "GET", "/v1/decisions", [("X-Api-Key", good)]).status == 429
        assert send(url, "GET", "/health").status == 200
        assert "synsec_api_auth_throttled_total 41" in send(url, "GET", "/metrics").body.decode()
