"""Notifications delivered to real servers on loopback: an aiohttp webhook (method, headers and the rendered
body; a 500 retried into a 200; slack's JSON), an aiosmtpd SMTP server over STARTTLS with login, the file type
with rotation, and `synsec run` killed between queueing and delivery: after the restart the webhook gets the
notification exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import ssl
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner

from connectors.notify.dispatch import Dispatcher
from synsec.cli.ccscli import ccscli
from synsec.content.notifications import load_notifications
from synsec.engine.errors import ErrorCollector
from synsec.engine.model import Alert, Decision, Source
from synsec.store import Store
from tests.integration.test_api_topic import broker, codecs  # noqa: F401 — module fixtures (tansu)
from tests.integration.test_run_live import REPO, Run, append, failures, proc_guard, wait_for  # noqa: F401

pytestmark = pytest.mark.integration
FORMAT = ("{{range . -}} {{$alert := . -}} {{range .Decisions -}} {{.Value}} will get {{.Type}} for next "
          "{{.Duration}} for triggering {{.Scenario}} on {{$alert.MachineID}}.{{end -}}{{end -}}")


class Hook:
    """An aiohttp server in its own thread recording requests; answers `statuses` in turn, then 200."""

    def __init__(self, statuses=()):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._serve, args=(started,), daemon=True).start()
        assert started.wait(10)

    def _serve(self, started) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        status = self.statuses.pop(0) if self.statuses else 200
        self.requests.append({"method": request.method, "path": request.path, "headers": dict(request.headers),
                              "body": (await request.read()).decode(), "status": status})
        return web.Response(status=status, text="ok" if status < 400 else "boom")

    def ok(self) -> list[dict]:
        return [r for r in self.requests if r["status"] == 200]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def hook():
    servers: list[Hook] = []

    def make(statuses=()):
        servers.append(Hook(statuses))
        return servers[-1]
    yield make
    for s in servers:
        s.close()


def _specs(text: str) -> dict:
    errors = ErrorCollector()
    specs = load_notifications([("notifications.yaml", text)], errors)
    assert not errors.errors, [str(e) for e in errors.errors]
    return specs


def _queue(state: Path, ip: str, names: tuple) -> Store:
    """Store one alert of `ip` with a 4h ban whose profile names the notifications `names`."""
    store = Store(state)
    now = time.time()
    alert = Alert("crowdsecurity/ssh-bf", Source("Ip", ip, IP=ip), 6, now - 10, now, Remediation=True,
                  UUID=f"alert-{ip}", Notify=names)
    decision = Decision("synsec", alert.Scenario, "Ip", ip, "ban", 4 * 3600.0, now + 4 * 3600, id=f"d-{ip}",
                        alert_id=alert.UUID)
    store.add([alert], [decision], machine_id="m1")
    return store


def _wait_rows(store: Store, pred, timeout: float = 15.0) -> dict:
    out: dict = {}
    wait_for(lambda: pred(out.update(store.notification_counts()) or out), timeout)
    return out


def test_http_webhook_method_headers_body_and_retry(tmp_path, hook):
    """A PUT with the configured header and the template's text; a 500 is retried with back-off into a 200
    carrying the same notification id; slack gets {"text": …} on its webhook."""
    server = hook([500])
    specs = _specs(f"type: http\nname: hook\nformat: |\n  {FORMAT}\nurl: http://127.0.0.1:{server.port}/hook\n"
                   f"method: PUT\nheaders:\n  X-Test: \"yes\"\n  Authorization: Bearer t0k\nmax_retry: 3\n"
                   f"---\ntype: slack\nname: chat\nwebhook: http://127.0.0.1:{server.port}/services/T/B/X\n"
                   f"format: '{{{{range .}}}}:flag: {{{{.Source.Value}}}}{{{{end}}}}'\n")
    store = _queue(tmp_path, "192.0.2.7", ("hook", "chat"))
    dispatcher = Dispatcher(tmp_path, specs, poll=0.05, backoff=0.2).start()
    try:
        counts = _wait_rows(store, lambda c: c.get("hook", {}).get("sent") == 1 and c.get("chat", {}).get("sent"))
    finally:
        dispatcher.stop()
    hooks = [r for r in server.requests if r["path"] == "/hook"]
    assert [r["status"] for r in hooks] == [500, 200]
    assert all(r["method"] == "PUT" and r["headers"]["X-Test"] == "yes" for r in hooks)
    assert hooks[0]["headers"]["X-Synsec-Notification-Id"] == hooks[1]["headers"]["X-Synsec-Notification-Id"]
    assert hooks[1]["body"].strip() == ("192.0.2.7 will get ban for next 4h0m0s for triggering "
                                        "crowdsecurity/ssh-bf on m1.")
    slack = [r for r in server.requests if r["path"] == "/services/T/B/X"]
    assert len(slack) == 1 and json.loads(slack[0]["body"]) == {"text": ":flag: 192.0.2.7"}
    assert counts["hook"] == {"queued": 0, "sent": 1, "failed": 0}
    res = CliRunner().invoke(ccscli, ["--state-dir", str(tmp_path), "--config-dir", str(_content(
        tmp_path, specs_text(server.port))), "notifications", "list", "-o", "json"])
    assert res.exit_code == 0, res.output
    assert {r["name"]: (r["sent"], r["failed"]) for r in json.loads(res.stdout)}["hook"] == (1, 0)


def test_http_gives_up_after_max_retry(tmp_path, hook):
    """A webhook that keeps failing is tried max_retry times, then the row is failed (not retried forever)."""
    server = hook([500] * 10)
    specs = _specs(f"type: http\nname: hook\nurl: http://127.0.0.1:{server.port}/\nmax_retry: 2\n")
    store = _queue(tmp_path, "192.0.2.8", ("hook",))
    dispatcher = Dispatcher(tmp_path, specs, poll=0.05, backoff=0.1).start()
    try:
        _wait_rows(store, lambda c: c.get("hook", {}).get("failed") == 1)
        time.sleep(0.4)
    finally:
        dispatcher.stop()
    assert len(server.requests) == 2
    assert "HTTP 500" in store.notification_errors("hook")[0][2]


def _cert(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the test."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_email_over_starttls_with_login(tmp_path):
    """aiosmtpd requiring STARTTLS and AUTH: the mail reaches both receivers with the subject and the text;
    the certificate is the test's own, trusted through ca_cert_path."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from connectors.kafka.broker import free_port

    cert, key = _cert(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    got: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode(), session.ssl))
            return "250 OK"

    def auth(server, session, envelope, mechanism, data):
        return AuthResult(success=(data.login, data.password) == (b"alice", b"s3cret"))

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True,
                     authenticator=auth, auth_require_tls=True)
    ctl.start()
    try:
        specs = _specs(f"type: email\nname: mail\nformat: |\n  {FORMAT}\nsmtp_host: 127.0.0.1\nsmtp_port: {port}\n"
                       f"smtp_username: alice\nsmtp_password: s3cret\nsender_email: synsec@example.org\n"
                       f"receiver_emails: [a@example.org, b@example.org]\nencryption_type: starttls\n"
                       f"ca_cert_path: {cert}\nemail_subject: synsec ban\n")
        store = _queue(tmp_path / "state", "192.0.2.9", ("mail",))
        sent = Dispatcher(tmp_path / "state", specs).run_once(store, time.time())
    finally:
        ctl.stop()
    assert sent == 1 and len(got) == 1
    sender, rcpts, content, session_tls = got[0]
    assert sender == "synsec@example.org" and rcpts == ["a@example.org", "b@example.org"]
    assert session_tls is not None                                # the mail went over the STARTTLS channel
    assert "Subject: synsec ban" in content and "192.0.2.9 will get ban for next 4h0m0s" in content
    assert store.notification_counts()["mail"]["sent"] == 1


def test_file_appends_and_rotates(tmp_path):
    """Each message is a line of log_path; past max_size the file is rotated to .1 (gzip with compress)."""
    log = tmp_path / "notify.log"
    log.write_text("x" * 1_000_001)
    specs = _specs(f"type: file\nname: file\nlog_path: {log}\nrotation: {{enabled: true, max_size: 1, "
                   f"max_files: 2, compress: true}}\n")
    store = _queue(tmp_path / "state", "192.0.2.10", ("file",))
    assert Dispatcher(tmp_path / "state", specs).run_once(store, time.time()) == 1
    import gzip
    assert gzip.open(f"{log}.1.gz").read() == b"x" * 1_000_001
    alerts = json.loads(log.read_text())
    assert alerts[0]["source"]["value"] == "192.0.2.10" and alerts[0]["decisions"][0]["type"] == "ban"


def specs_text(port: int, group_wait: str = "0s") -> str:
    return (f"type: http\nname: hook\nformat: |\n  {FORMAT}\nurl: http://127.0.0.1:{port}/hook\n"
            f"group_wait: {group_wait}\nmax_retry: 5\n")


def _content(tmp_path: Path, notification: str) -> Path:
    import shutil

    content = tmp_path / "content"
    if not content.exists():
        shutil.copytree(REPO / "scenarios", content)
        (content / "profiles.yaml").write_text(
            "name: ban\nfilters:\n  - Alert.Remediation == true\ndecisions:\n  - type: ban\n    duration: 4h\n"
            "notifications:\n  - hook\non_success: break\n")
        (content / "notifications").mkdir()
    (content / "notifications" / "hook.yaml").write_text(notification)
    return content


def _outbox(state: Path) -> list[tuple]:
    db = sqlite3.connect(f"file:{state / 'synsec.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT id, attempts, sent_at FROM notification_outbox").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


@pytest.mark.slow
def test_run_killed_between_queue_and_delivery_delivers_once(tmp_path, hook, proc_guard):
    """`synsec run` queues the ban's notification and is SIGKILLed before group_wait lets it go; restarted, it
    re-detects the same alert (not queued again) and delivers the notification once."""
    server = hook()
    content = _content(tmp_path, specs_text(server.port, "2s"))
    state, log = tmp_path / "state", tmp_path / "auth.log"
    log.write_text("")
    args = ("-f", str(log), "--type", "syslog", "--config-dir", str(content))
    first = Run(state, *args)
    proc_guard.append(first)
    assert not any("not deliver" in line for line in first.err)
    append(log, failures("192.0.2.77", 8))
    wait_for(lambda: _outbox(state))
    first.proc.kill()
    first.proc.wait(5)
    assert server.requests == [] and _outbox(state)[0][2] is None     # queued, not delivered
    second = Run(state, *args)
    proc_guard.append(second)
    wait_for(lambda: server.ok())
    time.sleep(1.0)                      # a repeat would come within a poll or two
    second.stop()
    assert len(server.requests) == 1
    assert "192.0.2.77 will get ban for next 4h0m0s" in server.requests[0]["body"]
    rows = _outbox(state)
    assert len(rows) == 1 and rows[0][2] is not None


def test_api_delivers_for_machine_pushed_alerts(tmp_path, hook):
    """`synsec api` deciding on an agent's pushed alert with a profile naming a webhook sends it, with the
    machine that pushed it; pushed twice (an agent retrying) it is sent once."""
    from tests.integration.test_api_http import ccs, running_api
    from tests.integration.test_lapi_machines import PASSWORD, alert, call, login

    server = hook()
    content = _content(tmp_path, specs_text(server.port))
    state = tmp_path / "state"
    ccs(state, "machines", "add", "agent1", "--password", PASSWORD)
    with running_api(state, args=("--refresh-interval", "0.05", "--config-dir", str(content))) as url:
        token = login(url)
        for _ in range(2):
            assert call(url + "/v1/alerts", "POST", token=token, body=[alert("198.51.100.23")])[0] == 201
        wait_for(lambda: server.ok())
        time.sleep(0.6)
    assert len(server.requests) == 1
    assert server.requests[0]["body"].strip() == ("198.51.100.23 will get ban for next 4h0m0s for triggering "
                                                  "crowdsecurity/http-probing on agent1.")


def test_group_wait_and_threshold(tmp_path):
    """Alerts wait group_wait before going out together in one message, unless group_threshold of them wait."""
    log = tmp_path / "n.log"
    specs = _specs(f"type: file\nname: file\nlog_path: {log}\ngroup_wait: 60s\ngroup_threshold: 3\n"
                   f"format: '{{{{len .}}}} alert(s)'\n")
    state = tmp_path / "state"
    dispatcher, now = Dispatcher(state, specs), time.time()
    store = _queue(state, "192.0.2.31", ("file",))
    _queue(state, "192.0.2.32", ("file",)).close()
    assert dispatcher.run_once(store, now) == 0 and not log.exists()          # 2 < threshold, not 60 s old
    assert dispatcher.run_once(store, now + 61) == 1 and log.read_text() == "2 alert(s)\n"
    for ip in ("192.0.2.33", "192.0.2.34", "192.0.2.35"):
        _queue(state, ip, ("file",)).close()
    assert dispatcher.run_once(store, time.time()) == 1                          # threshold reached at once
    assert log.read_text() == "2 alert(s)\n3 alert(s)\n"


def test_ccscli_notifications_test_inspect_list(tmp_path, hook):
    """`test NAME` sends a sample ban now; `inspect` masks the Authorization header; an unknown name fails."""
    server = hook()
    content = _content(tmp_path, specs_text(server.port).replace("max_retry: 5\n", "headers:\n  Authorization: "
                                                                                   "Bearer s3cret\n"))
    base = ["--state-dir", str(tmp_path / "state"), "--config-dir", str(content), "notifications"]
    res = CliRunner().invoke(ccscli, [*base, "test", "hook"])
    assert res.exit_code == 0, res.output
    assert len(server.ok()) == 1 and "192.0.2.1 will get ban for next 4h0m0s" in server.ok()[0]["body"]
    assert server.ok()[0]["headers"]["Authorization"] == "Bearer s3cret"
    res = CliRunner().invoke(ccscli, [*base, "inspect", "hook", "-o", "json"])
    assert res.exit_code == 0 and "s3cret" not in res.stdout
    assert json.loads(res.stdout)["headers"] == {"Authorization": "****"}
    res = CliRunner().invoke(ccscli, [*base, "test", "nope"])
    assert res.exit_code == 1 and "no notification named 'nope'" in res.output and res.exception.__class__ is SystemExit


def _feed_saved(state: Path) -> bool:
    try:
        db = sqlite3.connect(f"file:{state / 'synsec.db'}?mode=ro", uri=True)
        try:
            return bool(db.execute("SELECT count(*) FROM notification_feed").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:
        return False


def test_kafka_api_delivers_for_alerts_topic(tmp_path, hook, broker, codecs):  # noqa: F811
    """`synsec api --broker`: an alert on synsec.alerts that a profile naming a webhook matches is sent once,
    with the profile's ban; one no profile matches (no remediation) is not."""
    from tests.integration.test_api_http import running_api
    from tests.integration.test_crowd_kafka import _produce_alerts

    server = hook()
    content = _content(tmp_path, specs_text(server.port))
    state, now = tmp_path / "state", time.time()
    args = ("--refresh-interval", "0.05", "--broker", broker.url, "--topology", "single", "--config-dir",
            str(content))
    with running_api(state, tmp_path / "api.log", args=args, start_timeout=60):
        wait_for(lambda: _feed_saved(state), timeout=30)          # the feed starts at the topic's end
        bootstrap = broker.url.split("://", 1)[1]
        _produce_alerts(bootstrap, codecs, [
            Alert("crowdsecurity/ssh-bf", Source("Ip", "203.0.113.5", IP="203.0.113.5"), 6, now - 5, now,
                  Remediation=True, UUID="kafka-1"),
            Alert("crowdsecurity/ssh-bf", Source("Ip", "203.0.113.6", IP="203.0.113.6"), 6, now - 5, now,
                  Remediation=False, UUID="kafka-2")])
        wait_for(lambda: server.ok(), timeout=30)
        time.sleep(0.6)
    assert len(server.requests) == 1
    assert server.requests[0]["body"].strip() == ("203.0.113.5 will get ban for next 4h0m0s for triggering "
                                                  "crowdsecurity/ssh-bf on .")
