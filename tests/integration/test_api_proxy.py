"""`synsec api --trusted-proxies` behind a real nginx (Debian nginx-light) reverse proxy.

nginx on a free loopback port forwards to a real `synsec api` process and appends the client address to
X-Forwarded-For. Clients connect from distinct loopback addresses (127.1.0.5, 127.2.0.5, …), so the API must see
each client's own address — not nginx's — for the per-address auth-failure throttle and for the address a
machine or bouncer is recorded with; a header forged by a client, or sent by a peer that is not a trusted proxy,
must change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.kafka.broker import free_port
from tests.integration.test_api_http import ccs
from tests.integration.test_central_proxy import behind_nginx, call

pytestmark = pytest.mark.integration

PASSWORD = "agent-one-password-0123456789"


@pytest.fixture
def stack(tmp_path):
    """`synsec api` (trusting 127.0.0.1, 3 failed logins per address per minute, registration open) with machine
    agent1 and bouncer fw, and nginx in front of it, on free loopback ports; stopped by PID."""
    state = tmp_path / "state"
    ccs(state, "machines", "add", "agent1", "--password", PASSWORD)
    key = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()
    aport = free_port()
    with behind_nginx(tmp_path, ["api", "--listen", f"127.0.0.1:{aport}", "--state-dir", str(state),
                                 "--trusted-proxies", "127.0.0.1/32", "--auth-fail-limit", "3",
                                 "--allow-registration"], aport) as nport:
        yield aport, nport, state, key


def _login(port: int, source: str, password: str = PASSWORD, forwarded: str | None = None) -> int:
    return call(port, "POST", "/v1/watchers/login", {"machine_id": "agent1", "password": password}, source,
                forwarded=forwarded)[0]


def _machines(state: Path) -> dict[str, str | None]:
    return {m["machine_id"]: m["ip_address"] for m in json.loads(ccs(state, "machines", "list", "-o", "json"))}


def test_the_lapi_behind_nginx_throttles_and_records_each_client_and_ignores_forged_headers(stack):
    """Through nginx: a client whose passwords fail 3 times is throttled (429) while another client still logs in;
    a client forging the other's address in X-Forwarded-For is still itself (throttled at its own address, not
    the other's); a header sent straight to the API by an untrusted peer is ignored; the machines and the
    bouncer are recorded at their clients' addresses, not nginx's."""
    aport, nport, state, key = stack
    assert [_login(nport, "127.1.0.5", "wrong-password-000") for _ in range(3)] == [403, 403, 403]
    assert _login(nport, "127.1.0.5") == 429                        # its address is throttled…
    assert _login(nport, "127.2.0.5") == 200                        # …not nginx's: another client logs in
    assert _machines(state)["agent1"] == "127.2.0.5"
    assert [_login(nport, "127.3.0.5", "wrong-password-000", forwarded="127.2.0.5") for _ in range(3)] == [403] * 3
    assert _login(nport, "127.3.0.5", forwarded="127.2.0.5") == 429     # nginx appended 127.3.0.5: that one
    assert _login(nport, "127.2.0.5") == 200
    assert _login(nport, "127.3.0.5", forwarded="127.9.9.9") == 429     # a forged hop does not free it either
    assert _login(aport, "127.4.0.5", forwarded="127.2.0.5") == 200     # straight to the API: not a proxy
    assert _machines(state)["agent1"] == "127.4.0.5"
    status, _ = call(nport, "POST", "/v1/watchers", {"machine_id": "new1", "password": PASSWORD}, "127.5.0.5",
                     forwarded="127.1.0.9")
    assert status == 201 and _machines(state)["new1"] == "127.5.0.5"
    assert call(nport, "GET", "/v1/decisions/stream?startup=true", source="127.6.0.5", key=key)[0] == 200
    (fw,) = json.loads(ccs(state, "bouncers", "list", "-o", "json"))
    assert fw["ip_address"] == "127.6.0.5"
