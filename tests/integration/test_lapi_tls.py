"""`synsec api` over HTTPS (issue 14): `--tls-cert/--tls-key`, and with `--tls-client-ca` client certificates as
credentials, as CrowdSec's mTLS — OU `agent-ou` logs in as the machine `CN@address`, OU `bouncer-ou` pulls as
the bouncer `CN@address`; a certificate of another CA is refused at the handshake. Certificates are made by
Debian's openssl in the test."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.test_api_http import ccs, running_api
from tests.integration.test_lapi_machines import PASSWORD, alert

pytestmark = pytest.mark.integration


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _issue(d: Path, name: str, subject: str, ext: str, ca: str = "ca") -> None:
    """An EC key and a certificate `name.pem` signed by `ca`."""
    (d / f"{name}.ext").write_text(ext + "\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "rogue-ca"):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                 f"{ca}.key", "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN={ca}", cwd=d)
    _issue(d, "server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth")
    client = "extendedKeyUsage=clientAuth"
    _issue(d, "agent", "/OU=agent-ou/CN=agent7", client)
    _issue(d, "bouncer", "/OU=bouncer-ou/CN=fw7", client)
    _issue(d, "other", "/OU=finance/CN=someone", client)
    _issue(d, "rogue", "/OU=agent-ou/CN=intruder", client, ca="rogue-ca")
    return d


def _ctx(certs: Path, who: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if who:
        ctx.load_cert_chain(str(certs / f"{who}.pem"), str(certs / f"{who}.key"))
    return ctx


def _call(url: str, ctx: ssl.SSLContext, method: str = "GET", body=None, headers=None) -> tuple[int, object]:
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))
    try:
        with opener.open(req, timeout=15) as resp:
            status, data = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, data = err.code, err.read()
    return status, json.loads(data) if data else None


def test_https_and_client_certificates(certs, tmp_path):
    """HTTPS serves the LAPI; an agent certificate logs in without a password (machine agent7@127.0.0.1,
    validated) and pushes an alert, which a bouncer certificate pulls as a ban (bouncer fw7@127.0.0.1); keys and
    passwords still work; an agent certificate cannot pull as a bouncer, a certificate of another OU
    authenticates nothing, one of another CA fails the handshake."""
    state = tmp_path / "state"
    ccs(state, "machines", "add", "agent1", "--password", PASSWORD)
    key = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()
    args = ("--refresh-interval", "0.05", "--tls-cert", str(certs / "server.pem"), "--tls-key",
            str(certs / "server.key"), "--tls-client-ca", str(certs / "ca.pem"))
    with running_api(state, args=args, tls=_ctx(certs)) as url:
        assert url.startswith("https://")
        status, reply = _call(url + "/v1/watchers/login", _ctx(certs, "agent"), "POST",
                              {"scenarios": ["crowdsecurity/http-probing"]})
        assert status == 200, reply
        bearer = {"Authorization": f"Bearer {reply['token']}", "Content-Type": "application/json"}
        status, ids = _call(url + "/v1/alerts", _ctx(certs, "agent"), "POST", [alert("45.13.227.30")], bearer)
        assert status == 201 and len(ids) == 1

        status, stream = _call(url + "/v1/decisions/stream?startup=true", _ctx(certs, "bouncer"))
        assert status == 200 and [d["value"] for d in stream["new"]] == ["45.13.227.30"]
        assert _call(url + "/v1/decisions/stream", _ctx(certs, "bouncer"))[1] == {"new": None, "deleted": None}
        assert _call(url + "/v1/decisions", _ctx(certs), headers={"X-Api-Key": key})[0] == 200
        status, reply = _call(url + "/v1/watchers/login", _ctx(certs), "POST",
                              {"machine_id": "agent1", "password": PASSWORD})
        assert status == 200 and reply["token"]

        assert _call(url + "/v1/decisions", _ctx(certs, "agent"))[0] == 403          # an agent is no bouncer
        assert _call(url + "/v1/decisions", _ctx(certs, "other"))[0] == 403          # unknown OU: nothing
        assert _call(url + "/v1/watchers/login", _ctx(certs, "other"), "POST", {})[0] == 400
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            _call(url + "/health", _ctx(certs, "rogue"))
            _call(url + "/v1/decisions", _ctx(certs, "rogue"))
        with pytest.raises((urllib.error.URLError, ConnectionError)):             # no plain HTTP
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                url.replace("https://", "http://") + "/health", timeout=5).read()

    machines = {m["machine_id"]: m for m in json.loads(ccs(state, "machines", "list", "-o", "json"))}
    assert machines["agent7@127.0.0.1"]["is_validated"] and machines["agent7@127.0.0.1"]["last_push"]
    assert "fw7@127.0.0.1" in {b["name"] for b in json.loads(ccs(state, "bouncers", "list", "-o", "json"))}
