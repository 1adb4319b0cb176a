"""The dashboard `synsec api` serves at /ui/ (docs/dashboard.md), against a real `synsec api` process over a store
filled by a replay of the auth sample: its JSON endpoints need a machine key or token, refuse bad input with a
4xx, and unban deletes the decision from the store; the page itself is driven in Debian's chromium."""

from __future__ import annotations

import json
import base64
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.cli.main import cli
from synsec.store import Store
from tests.integration.test_api_http import ccs, http, running_api

pytestmark = pytest.mark.integration

AUTH_SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "samples" / "auth-demo.log"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    """A replayed store, a machine key and a bouncer key, and the API serving them (one per module: the unban
    test only counts relative to what it finds)."""
    state = tmp_path_factory.mktemp("dash") / "state"
    res = CliRunner().invoke(cli, ["replay", str(AUTH_SAMPLE), "--type", "syslog", "--state-dir", str(state)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    keys = {"admin": ccs(state, "bouncers", "add", "admin", "--role", "machine", "-o", "raw").strip(),
            "fw": ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()}
    with running_api(state) as url:
        yield url, keys, state


def _active_values(state: Path) -> list[str]:
    store = Store(state)
    try:
        return [d["value"] for d in store.decisions(active_only=True, now=time.time())]
    finally:
        store.close()


def test_dashboard_endpoints_need_a_machine_key(dash):
    """No key, a bouncer key or a wrong key get 401/403 and no data; the static page holds no data and is served
    with a strict Content-Security-Policy."""
    url, keys, _ = dash
    for path in ("/ui/api/summary", "/ui/api/decisions"):
        assert http(url + path)[0] == 403
        status, body = http(url + path, keys["fw"])
        assert status == 403 and b"synsec/" not in body
        assert http(url + path, "0" * 64)[0] == 403
    req = urllib.request.Request(url + "/ui/api/summary", headers={"Authorization": "Bearer not-a-token"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 401
    assert http(url + "/ui/api/decisions/1", method="DELETE")[0] == 403
    with urllib.request.urlopen(url + "/ui/", timeout=5) as resp:
        csp = resp.headers["Content-Security-Policy"]
        page = resp.read().decode()
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http://" not in page and "https://" not in page      # no external assets
    assert http(url + "/ui/../server.py")[0] == 404 and http(url + "/ui/nope.js")[0] == 404


def test_dashboard_summary_and_search(dash):
    """The summary counts the replayed alerts by scenario and source, per time step, the active decisions by
    origin and the parse rates of the sample; the search filters decisions."""
    url, keys, state = dash
    status, body = http(url + "/ui/api/summary", keys["admin"])
    assert status == 200, body
    s = json.loads(body)
    alerts = json.loads(ccs(state, "alerts", "list", "-o", "json"))
    assert s["alerts"] == len(alerts) == 6
    assert sum(n for _, n in s["timeline"]["points"]) == 6 and s["timeline"]["step"] == 60
    assert {r["scenario"]: r["alerts"] for r in s["top_scenarios"]}["synsec/ssh-bf"] == 2
    assert sum(r["alerts"] for r in s["top_sources"]) == 6
    assert s["decisions"]["active"] == len(_active_values(state)) > 0
    assert s["decisions"]["by_origin"] == {"synsec": s["decisions"]["active"]} and s["decisions"]["community"] == 0
    assert [(r["read"], r["parsed"], r["unparsed"]) for r in s["parse_rates"]] == [(75, 73, 2)]
    value = s["top_sources"][0]["value"]
    found = json.loads(http(url + f"/ui/api/decisions?q={value}", keys["admin"])[1])
    assert found["total"] >= 1 and all(d["value"] == value for d in found["decisions"])
    assert json.loads(http(url + "/ui/api/decisions?q=nothing-like-this", keys["admin"])[1])["total"] == 0


@pytest.mark.parametrize("path, method", [("/ui/api/decisions?limit=0", "GET"), ("/ui/api/decisions?limit=x", "GET"),
                                          ("/ui/api/decisions?bogus=1", "GET"), ("/ui/api/decisions/abc", "DELETE"),
                                          ("/ui/api/decisions/999999", "DELETE"), ("/ui/api/summary", "POST")])
def test_dashboard_bad_input_is_a_4xx(dash, path, method):
    """A bad parameter, an unknown decision or a wrong method is a JSON 4xx with a message, never a 500."""
    url, keys, _ = dash
    status, body = http(url + path, keys["admin"], method=method)
    assert 400 <= status < 500 and json.loads(body)["message"]


def test_dashboard_unban_deletes_from_the_store(dash):
    """DELETE /ui/api/decisions/{id} ends that decision in the store; deleting it again is a 404."""
    url, keys, state = dash
    d = json.loads(http(url + "/ui/api/decisions", keys["admin"])[1])["decisions"][0]
    before = _active_values(state)
    status, body = http(url + f"/ui/api/decisions/{d['id']}", keys["admin"], method="DELETE")
    assert status == 200 and json.loads(body) == {"nbDeleted": 1}
    after = _active_values(state)
    assert len(after) == len(before) - 1
    assert http(url + f"/ui/api/decisions/{d['id']}", keys["admin"], method="DELETE")[0] == 404


_INK = """async (png) => {
  const img = new Image();
  img.src = "data:image/png;base64," + png;
  await img.decode();
  const c = document.createElement("canvas");
  c.width = img.width; c.height = img.height;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i] < 200 || px[i + 1] < 200 || px[i + 2] < 200) ink++;
  return ink;
}"""


def test_dashboard_in_chromium(dash):
    """In headless chromium: log in with the machine key, the charts draw the replay (SVG bars and non-white
    pixels in each chart's screenshot), no CSP violation or script error, a search narrows the decisions and an
    Unban click removes that decision from the store; `ccscli dashboard`'s URL logs a new session in."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("needs Debian's chromium: apt-get install -y chromium (scripts/apt-packages.txt)")
    from playwright.sync_api import sync_playwright

    url, keys, state = dash
    before = _active_values(state)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            outside: list[str] = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(url) else None)
            page.goto(url + "/ui")
            page.wait_for_selector("#login-form")
            page.fill("#key", keys["admin"])
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("body[data-loaded='1']", timeout=10_000)
            assert page.text_content("#n-alerts") == "6"
            assert page.locator("#chart-timeline rect.bar").count() >= 5
            assert page.locator("#chart-scenarios rect.bar").count() == 4
            assert page.locator("#chart-community .slice").count() == 1
            assert page.locator("#chart-parse rect.bar").count() == 1
            assert page.locator("#sources tbody tr").count() >= 3
            shots = {c: base64.b64encode(page.locator(f"#chart-{c}").screenshot()).decode()
                     for c in ("timeline", "scenarios", "community", "parse")}
            blank = browser.new_page()
            for chart, png in shots.items():
                assert blank.evaluate(_INK, png) > 500, f"chart {chart} looks empty"
            rows = page.locator("#decisions tbody tr")
            assert rows.count() == len(before)
            value = page.text_content("#sources tbody tr td")
            page.fill("#search", value)
            page.click("#search-form button")
            page.wait_for_function("n => document.querySelectorAll('#decisions tbody tr').length === n",
                                   arg=before.count(value))
            assert all(value in t for t in rows.all_inner_texts())
            page.click("#decisions tbody tr >> nth=0 >> button.unban")
            page.wait_for_function("n => document.querySelectorAll('#decisions tbody tr').length === n",
                                   arg=before.count(value) - 1)
            link = ccs(state, "dashboard", "--url", url, "-o", "raw").strip()
            assert link.startswith(url + "/ui/#key=")
            fresh = browser.new_context().new_page()       # a new session: logged in by the fragment's key
            fresh.goto(link)
            fresh.wait_for_selector("body[data-loaded='1']", timeout=10_000)
            assert "#" not in fresh.url and fresh.text_content("#n-alerts") == "6"
            assert errors == [] and outside == []
        finally:
            browser.close()
    after = _active_values(state)
    assert len(after) == len(before) - 1 and after.count(value) == before.count(value) - 1
