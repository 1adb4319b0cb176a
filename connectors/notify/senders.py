"""One sender per notification type (http, slack, email, file): `send(spec, text, message_id)` delivers one
rendered message or raises DeliveryError. Each attempt is bounded by the spec's `timeout`."""

from __future__ import annotations

import gzip
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Callable

from synsec.content.notifications import NotificationSpec
from synsec.engine.errors import SynsecError

__all__ = ["SENDERS", "DeliveryError", "send"]

MAX_REPLY = 64 * 1024


class DeliveryError(SynsecError):
    """One failed delivery attempt (retried until the notification's max_retry)."""


def _tls_context(opts) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=opts.get("ca_cert_path") or None)
    if opts.get("skip_tls_verification"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):      # a webhook that redirects is an error, not a silent resend
        return None


def _post(url: str, method: str, headers: dict, body: bytes, spec: NotificationSpec) -> None:
    req = urllib.request.Request(url, data=body if method != "GET" else None, method=method, headers=headers)
    handlers = [_NoRedirect()]
    if url.startswith("https://"):
        handlers.append(urllib.request.HTTPSHandler(context=_tls_context(spec.options)))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(req, timeout=spec.timeout) as resp:
            resp.read(MAX_REPLY)
    except urllib.error.HTTPError as err:
        raise DeliveryError(f"HTTP {err.code} from {url}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise DeliveryError(f"{url}: {getattr(err, 'reason', err)}") from None


def send_http(spec: NotificationSpec, text: str, message_id: str) -> None:
    headers = {"User-Agent": "synsec", "X-Synsec-Notification-Id": message_id, **spec.options.get("headers", {})}
    headers.setdefault("Content-Type", "application/json" if text[:1] in "[{" else "text/plain; charset=utf-8")
    _post(spec.options["url"], spec.options["method"], headers, text.encode(), spec)


def send_slack(spec: NotificationSpec, text: str, message_id: str) -> None:
    payload = {"text": text, **{k: spec.options[k] for k in ("channel", "username", "icon_emoji", "icon_url")
                                if spec.options.get(k)}}
    headers = {"User-Agent": "synsec", "Content-Type": "application/json", "X-Synsec-Notification-Id": message_id}
    _post(spec.options["webhook"], "POST", headers, json.dumps(payload).encode(), spec)


def send_email(spec: NotificationSpec, text: str, message_id: str) -> None:
    o = spec.options
    msg = EmailMessage()
    msg["Subject"] = o["email_subject"]
    msg["From"] = formataddr((o.get("sender_name") or "", o["sender_email"]))
    msg["To"] = ", ".join(o["receiver_emails"])
    msg["Message-ID"] = make_msgid(idstring=message_id, domain="synsec")
    msg["X-Synsec-Notification-Id"] = message_id
    msg.set_content(text, subtype="html")
    host, port, helo = o["smtp_host"], o["smtp_port"], o.get("helo_host") or None
    try:
        if o["encryption_type"] == "ssltls":
            smtp = smtplib.SMTP_SSL(host, port, local_hostname=helo, timeout=spec.timeout,
                                    context=_tls_context(o))
        else:
            smtp = smtplib.SMTP(host, port, local_hostname=helo, timeout=spec.timeout)
        with smtp:
            if o["encryption_type"] == "starttls":
                smtp.starttls(context=_tls_context(o))
            if o.get("smtp_username") and o["auth_type"] != "none":
                smtp.login(o["smtp_username"], o.get("smtp_password") or "")
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as err:
        raise DeliveryError(f"smtp {host}:{port}: {err}") from None


def _rotate(path: Path, rotation: dict) -> None:
    """path → path.1 (→ .1.gz when compressed) … keeping max_files rotated files."""
    gz = ".gz" if rotation["compress"] else ""
    keep = rotation["max_files"]
    Path(f"{path}.{keep}{gz}").unlink(missing_ok=True)
    for i in range(keep - 1, 0, -1):
        if Path(f"{path}.{i}{gz}").exists():
            os.replace(f"{path}.{i}{gz}", f"{path}.{i + 1}{gz}")
    if gz:
        with open(path, "rb") as src, gzip.open(f"{path}.1.gz", "wb") as dst:
            dst.write(src.read())
        path.unlink()
    else:
        os.replace(path, f"{path}.1")


def send_file(spec: NotificationSpec, text: str, message_id: str) -> None:
    path = Path(spec.options["log_path"])
    rotation = spec.options.get("rotation") or {}
    try:
        if rotation.get("enabled") and path.exists() and path.stat().st_size >= rotation["max_size"] * 1_000_000:
            _rotate(path, rotation)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as err:
        raise DeliveryError(f"{path}: {err}") from None


SENDERS: dict[str, Callable[[NotificationSpec, str, str], None]] = {
    "http": send_http, "slack": send_slack, "email": send_email, "file": send_file}


def send(spec: NotificationSpec, text: str, message_id: str) -> None:
    SENDERS[spec.type](spec, text, message_id)
