"""`synsec api` as a real process on a free loopback port: LAPI shapes, keys, bad input, ccscli over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.kafka.broker import free_port
from synsec.cli.api import api as api_command
from synsec.cli.api import parse_listen
from synsec.cli.ccscli import ccscli
from tests.procutil import stop

pytestmark = pytest.mark.integration


@contextmanager
def running_api(state_dir: Path, log: Path | None = None, *, args: tuple[str, ...] = ("--refresh-interval", "0.05"),
                start_timeout: float = 60, port: int | None = None, tls=None):
    """Start `synsec api ARGS` on a free 127.0.0.1 port (or `port`); yield its base URL; stop it by its PID.
    `tls`: an `ssl.SSLContext` that trusts the server (it serves HTTPS). `start_timeout` only bounds the wait
    for /health (a process that exits fails at once): generous, for machines busy with parallel test workers."""
    port = port or free_port()
    out = open(log or Path(state_dir).parent / f"api-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "synsec.cli.main", "api", "--listen", f"127.0.0.1:{port}",
                             "--state-dir", str(state_dir), *args],
                            stdout=out, stderr=subprocess.STDOUT)
    url = f"http{'s' if tls else ''}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=1, context=tls).read()
                break
            except OSError:                  # refused, reset, or a timeout while it starts
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"synsec api did not start: {out.name}") from None
                time.sleep(0.1)
        yield url
    finally:
        stop(proc, grace=15)
        out.close()


def http(url: str, key: str | None = None, method: str = "GET", body=None) -> tuple[int, bytes]:
    headers = {"X-Api-Key": key} if key is not None else {}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def ccs(state, *args) -> str:
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), *args])
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture
def server(tmp_path):
    state = tmp_path / "state"
    keys = {"fw": ccs(state, "bouncers", "add", "fw", "-o", "raw").strip(),
            "nginx": ccs(state, "bouncers", "add", "nginx", "-o", "raw").strip(),
            "admin": ccs(state, "bouncers", "add", "admin", "--role", "machine", "-o", "raw").strip()}
    with running_api(state) as url:
        yield url, keys, state


def test_bouncers_add_raw_prints_only_the_key(tmp_path):
    """`ccscli bouncers add NAME -o raw` prints the key and nothing else."""
    out = CliRunner().invoke(ccscli, ["--state-dir", str(tmp_path), "bouncers", "add", "x", "-o", "raw"]).output
    assert len(out) == 65 and out.endswith("\n") and all(c in "0123456789abcdef" for c in out.strip())


def test_listens_on_loopback_by_default():
    """`synsec api` binds 127.0.0.1 unless told otherwise."""
    listen = next(p for p in api_command.params if p.name == "listen")
    assert parse_listen(listen.default) == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:9000") == ("::1", 9000) and parse_listen(":9000") == ("127.0.0.1", 9000)


def test_missing_or_wrong_key_is_403_without_data(server):
    """No key, a wrong key, or a bouncer key on a machine route: 403 and no decision in the body."""
    url, keys, state = server
    ccs(state, "decisions", "add", "--ip", "192.0.2.77")
    for path in ("/v1/decisions", "/v1/decisions/stream?startup=true", "/v1/decisions?ip=192.0.2.77"):
        for key in (None, "", "0" * 64, keys["fw"][:-1]):
            for method in ("GET", "HEAD"):
                status, body = http(url + path, key, method)
                assert status == 403 and b"192.0.2.77" not in body, (path, key, method)
    assert http(url + "/v1/decisions", keys["fw"])[0] == 200
    status, _ = http(url + "/v1/decisions", keys["fw"], "POST", [{"value": "192.0.2.1"}])
    assert status == 403
    assert http(url + "/v1/alerts", keys["nginx"])[0] == 403


@pytest.mark.parametrize("query", ["ip=1.2.3", "range=10.0.0.0/40", "contains=perhaps", "nope=1",
                                   "ip=1.2.3.4&range=1.2.3.0/24"])
def test_malformed_parameters_are_400_with_a_message(server, query):
    """A malformed /v1/decisions query is a 400 whose JSON message names the parameter problem."""
    url, keys, _ = server
    status, body = http(f"{url}/v1/decisions?{query}", keys["fw"])
    assert status == 400 and json.loads(body)["message"]


def test_decisions_lookup_shapes(server):
    """/v1/decisions: JSON null when nothing matches; ip= finds IP and range decisions, IPv4 and IPv6."""
    url, keys, state = server
    assert http(url + "/v1/decisions?ip=192.0.2.7", keys["fw"]) == (200, b"null")
    ccs(state, "decisions", "add", "--ip", "192.0.2.7", "-d", "1h")
    ccs(state, "decisions", "add", "--range", "198.51.100.0/24", "-R", "manual range")
    ccs(state, "decisions", "add", "--range", "2001:db8::/32", "-t", "captcha")
    time.sleep(0.1)
    got = json.loads(http(url + "/v1/decisions?ip=192.0.2.7", keys["fw"])[1])
    assert len(got) == 1 and set(got[0]) == {"id", "origin", "type", "scope", "value", "duration", "scenario"}
    assert got[0]["origin"] == "ccscli" and got[0]["scope"] == "Ip" and (got[0]["duration"] == "1h0m0s" or got[0]["duration"].startswith("59m5"))
    assert isinstance(got[0]["id"], int)
    [r] = json.loads(http(url + "/v1/decisions?ip=198.51.100.200", keys["fw"])[1])
    assert (r["scope"], r["value"], r["scenario"]) == ("Range", "198.51.100.0/24", "manual range")
    [r] = json.loads(http(url + "/v1/decisions?ip=2001:db8:1::5", keys["fw"])[1])
    assert (r["value"], r["type"]) == ("2001:db8::/32", "captcha")
    assert http(url + "/v1/decisions?ip=2001:db9::1", keys["fw"])[1] == b"null"
    got = json.loads(http(url + "/v1/decisions?scope=ip&value=192.0.2.7", keys["fw"])[1])
    assert [r["value"] for r in got] == ["192.0.2.7"]
    assert http(url + "/v1/decisions?ip=192.0.2.7", keys["fw"], "HEAD") == (200, b"")


def test_stream_delta_is_per_bouncer(server):
    """Each bouncer's stream pull returns what changed since its own last pull; HEAD does not move it."""
    url, keys, state = server
    stream = lambda who, q="": json.loads(http(f"{url}/v1/decisions/stream{q}", keys[who])[1])  # noqa: E731
    assert stream("fw", "?startup=true") == {"new": None, "deleted": None}
    ccs(state, "decisions", "add", "--ip", "192.0.2.10")
    time.sleep(0.1)
    assert [d["value"] for d in stream("fw")["new"]] == ["192.0.2.10"]
    assert stream("fw") == {"new": None, "deleted": None}
    assert http(f"{url}/v1/decisions/stream", keys["nginx"], "HEAD") == (200, b"")
    assert [d["value"] for d in stream("nginx", "?startup=true")["new"]] == ["192.0.2.10"]
    ccs(state, "decisions", "delete", "--ip", "192.0.2.10")
    ccs(state, "decisions", "add", "--range", "2001:db8::/64")
    time.sleep(0.1)
    body = stream("fw")
    assert [d["value"] for d in body["new"]] == ["2001:db8::/64"]
    assert [d["value"] for d in body["deleted"]] == ["192.0.2.10"]
    assert stream("fw", "?scopes=ip") == {"new": None, "deleted": None}
    body = stream("nginx", "?scopes=range")   # nginx's own delta, filtered to ranges
    assert [d["value"] for d in body["new"]] == ["2001:db8::/64"] and body["deleted"] is None
    assert http(f"{url}/v1/decisions/stream?startup=maybe", keys["fw"])[0] == 400
    listed = json.loads(ccs(state, "bouncers", "list", "-o", "json"))
    assert {b["name"]: b["last_pull"] is not None for b in listed} == {"admin": False, "fw": True, "nginx": True}


def test_ccscli_over_the_api(server):
    """ccscli with --api-url and a machine key adds, lists and deletes decisions through the API."""
    url, keys, state = server
    over = ["decisions", "--api-url", url, "--api-key", keys["admin"]]
    assert "successfully added" in ccs(state, *over, "add", "--ip", "2001:db8::7", "-R", "test ban")
    [row] = json.loads(ccs(state, *over, "list", "-o", "json"))
    assert (row["value"], row["origin"], row["scenario"]) == ("2001:db8::7", "ccscli", "test ban")
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), *over, "add", "--ip", "300.1.2.3"])
    assert res.exit_code != 0 and "invalid IP '300.1.2.3'" in res.output
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), "decisions", "--api-url", url, "--api-key",
                                      keys["fw"], "add", "--ip", "192.0.2.1"])
    assert res.exit_code != 0 and "403" in res.output
    assert "1 decision(s) deleted" in ccs(state, *over, "delete", "--id", str(row["id"]))
    assert json.loads(ccs(state, *over, "list", "-o", "json")) == []
    status, body = http(url + "/v1/decisions", keys["admin"], "POST", [{"value": "10.0.0.1/8", "scope": "range"}])
    assert status == 400 and b"invalid range" in body
    assert http(url + "/v1/alerts", keys["admin"]) == (200, b"[]")
    assert http(url + "/v1/alerts/nope", keys["admin"])[0] == 404


def test_decisions_import_rejects_bad_entries(tmp_path):
    """`ccscli decisions import` adds nothing when one entry is invalid, and names it."""
    state = tmp_path / "state"
    f = tmp_path / "bans.txt"
    f.write_text("192.0.2.1\n192.0.2.0/24\n999.1.1.1\n")
    res = CliRunner().invoke(ccscli, ["--state-dir", str(state), "decisions", "import", "-i", str(f)])
    assert res.exit_code != 0 and "line 2: invalid IP '192.0.2.0/24'" in res.output and "line 3" in res.output
    assert json.loads(ccs(state, "decisions", "list", "-o", "json")) == []
    f.write_text('[{"value": "192.0.2.1"}, {"value": "192.0.2.0/24", "scope": "Range", "duration": "1h"}]')
    ccs(state, "decisions", "import", "-i", str(f), "--format", "json")
    rows = json.loads(ccs(state, "decisions", "list", "-o", "json"))
    assert sorted((r["value"], r["origin"]) for r in rows) == [("192.0.2.0/24", "ccscli-import"),
                                                               ("192.0.2.1", "ccscli-import")]


def test_health_and_metrics(server):
    """/health answers without a key; /metrics is Prometheus text with requests, pulls and active gauges."""
    url, keys, state = server
    assert json.loads(http(url + "/health")[1]) == {"status": "up"}
    ccs(state, "decisions", "add", "--ip", "192.0.2.3")
    http(url + "/v1/decisions/stream?startup=true", keys["fw"])
    http(url + "/v1/decisions", "wrong")
    text = http(url + "/metrics")[1].decode()
    assert '# TYPE synsec_api_requests_total counter' in text
    assert 'synsec_api_requests_total{route="/v1/decisions/stream",method="GET",code="200"} 1' in text
    assert 'synsec_api_requests_total{route="/v1/decisions",method="GET",code="403"} 1' in text
    assert 'synsec_api_bouncer_pulls_total{bouncer="fw",route="/v1/decisions/stream"} 1' in text
    assert 'synsec_api_decisions_active{origin="ccscli",scenario="manual \'ban\' from ccscli",type="ban"} 1' in text
    assert "synsec_api_forbidden_total 1" in text
