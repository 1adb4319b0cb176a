"""CrowdSec's notification files (notifications/*.yaml) → checked `NotificationSpec`s with a compiled `format`.

Keys common to every type: type, name, format, group_wait, group_threshold, max_retry, timeout, log_level; the
type's own keys are in TYPE_KEYS. Unknown keys, wrong types and a `format` that does not compile are load errors
naming file, line and field (a template error's line is counted inside the file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from synsec.content.spec import Doc, check_keys, get_bool, get_int, get_list, get_map, get_str
from synsec.content.yamlload import kind_of, line_of, load_documents
from synsec.engine.durations import parse_duration
from synsec.engine.errors import ErrorCollector, LoadError, SynsecError
from synsec.engine.notify_template import Template, TemplateError, compile_template

__all__ = ["NotificationSpec", "load_notifications", "TYPE_KEYS", "DEFAULT_FORMAT"]

COMMON_KEYS = frozenset({"type", "name", "format", "group_wait", "group_threshold", "max_retry", "timeout",
                         "log_level"})
TYPE_KEYS: dict[str, frozenset] = {
    "http": frozenset({"url", "method", "headers", "skip_tls_verification", "ca_cert_path"}),
    "slack": frozenset({"webhook", "channel", "username", "icon_emoji", "icon_url"}),
    "email": frozenset({"smtp_host", "smtp_port", "smtp_username", "smtp_password", "sender_email",
                        "sender_name", "receiver_emails", "encryption_type", "auth_type", "email_subject",
                        "helo_host", "skip_tls_verification", "ca_cert_path"}),
    "file": frozenset({"log_path", "rotation"}),
}
REQUIRED = {"http": ("url",), "slack": ("webhook",), "email": ("smtp_host", "sender_email", "receiver_emails"),
            "file": ("log_path",)}
ROTATION_KEYS = frozenset({"enabled", "max_size", "max_files", "max_age", "compress"})
ENCRYPTION = ("none", "ssltls", "starttls")
AUTH = ("login", "plain", "none")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_FORMAT = "{{.|toJson}}"


@dataclass(frozen=True)
class NotificationSpec:
    """One notification: what to send (`template` over the alerts) and where (`type` and its `options`)."""

    name: str
    type: str
    template: Template
    format: str
    group_wait: float = 0.0         # seconds to collect alerts before sending them together
    group_threshold: int = 0        # send as soon as this many alerts are waiting (0: no threshold)
    max_retry: int = 1              # attempts before an alert's notification is given up (failed)
    timeout: float = 5.0            # seconds one attempt may take
    options: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    path: str = ""
    line: int = 0

    def redacted(self) -> dict:
        """The spec as `ccscli notifications inspect` prints it: secrets masked."""
        opts = {k: ("****" if k in ("smtp_password",) or k == "headers" and v else v)
                for k, v in self.options.items()}
        if self.options.get("headers"):
            opts["headers"] = {k: "****" for k in self.options["headers"]}
        if self.type == "slack" and self.options.get("webhook"):
            opts["webhook"] = self.options["webhook"].split("/services/")[0] + "/****"
        return {"name": self.name, "type": self.type, "format": self.format, "group_wait": self.group_wait,
                "group_threshold": self.group_threshold, "max_retry": self.max_retry, "timeout": self.timeout,
                "file": f"{self.path}:{self.line}", **opts}


def _duration(doc: Doc, key: str, default: float) -> float:
    value = doc.data.get(key)
    if value is None:
        return default
    try:
        return parse_duration(value)
    except (SynsecError, ValueError) as err:
        doc.error(key, str(err))
        return default


def _count(doc: Doc, key: str, default: int, low: int = 0) -> int:
    value = get_int(doc, key, default)
    if value is not None and value < low:
        doc.error(key, f"expected an integer >= {low}, got {value}")
        return default
    return default if value is None else value


def _template(doc: Doc) -> tuple[Template | None, str]:
    text = get_str(doc, "format", DEFAULT_FORMAT) or DEFAULT_FORMAT
    try:
        return compile_template(text), text
    except TemplateError as err:
        line = line_of(doc.data, "format") or doc.line
        # a block scalar (`format: |`) starts on the line after the key
        raw = doc.data.get("format")
        offset = 1 if isinstance(raw, str) and "\n" in raw else 0
        where = doc.where("format")
        doc.errors.add(LoadError(type(where)(where.path, line + offset + max(err.line - 1, 0), where.field),
                                 f"template: {err.message}"))
        return None, text


def _options(doc: Doc, kind: str) -> dict:
    out: dict = {}
    for key in REQUIRED[kind]:
        if key not in doc.data:
            doc.error(key, f"required field for type {kind} is missing")
    for key in TYPE_KEYS[kind]:
        if key not in doc.data or doc.data[key] is None:
            continue
        if key in ("skip_tls_verification",):
            out[key] = get_bool(doc, key)
        elif key == "smtp_port":
            out[key] = _count(doc, key, 25, 1)
        elif key == "headers":
            headers = get_map(doc, key)
            bad = [k for k, v in headers.items() if not isinstance(k, str) or not isinstance(v, (str, int))
                   or isinstance(v, bool) or "\n" in str(k) + str(v) or "\r" in str(k) + str(v)]
            if bad:
                doc.error(key, f"header {bad[0]!r}: expected a one-line string name and value (quote yes, no, "
                               f"true, false)")
            out[key] = {str(k): str(v) for k, v in headers.items() if k not in bad}
        elif key == "receiver_emails":
            emails = [e for e in get_list(doc, key) if isinstance(e, str) and e]
            if not emails or len(emails) != len(get_list(doc, key)):
                doc.error(key, "expected a list of email addresses")
            out[key] = tuple(emails)
        elif key == "rotation":
            out[key] = _rotation(doc.child(key, doc.data[key]))
        else:
            out[key] = get_str(doc, key)
    if kind == "http":
        out["method"] = (out.get("method") or "POST").upper()
        if out["method"] not in METHODS:
            doc.error("method", f"expected one of {', '.join(METHODS)}, got {out['method']!r}")
    if kind in ("http", "slack"):
        url = out.get("url" if kind == "http" else "webhook") or ""
        if url and not url.startswith(("http://", "https://")):
            doc.error("url" if kind == "http" else "webhook", f"expected an http:// or https:// URL, got {url!r}")
    if kind == "email":
        out["encryption_type"] = (out.get("encryption_type") or "ssltls").lower()
        out["auth_type"] = (out.get("auth_type") or "login").lower()
        for key, allowed in (("encryption_type", ENCRYPTION), ("auth_type", AUTH)):
            if out[key] not in allowed:
                doc.error(key, f"expected one of {', '.join(allowed)}, got {out[key]!r}")
        out.setdefault("smtp_port", 465 if out["encryption_type"] == "ssltls" else 25)
        out.setdefault("email_subject", "CrowdSec Notification")
    return out


def _rotation(doc: Doc) -> dict:
    check_keys(doc, ROTATION_KEYS)
    return {"enabled": get_bool(doc, "enabled", False), "max_size": _count(doc, "max_size", 500, 1),
            "max_files": _count(doc, "max_files", 5, 1), "max_age": _count(doc, "max_age", 0),
            "compress": get_bool(doc, "compress", False)}


def _spec(doc: Doc) -> NotificationSpec | None:
    """The spec of one document, or None when it has an error (recorded)."""
    before = len(doc.errors.errors)
    kind = get_str(doc, "type", required=True)
    name = get_str(doc, "name", required=True)
    if kind and kind not in TYPE_KEYS:
        doc.error("type", f"unknown notification type {kind!r} (known: {', '.join(sorted(TYPE_KEYS))})")
        return None
    check_keys(doc, COMMON_KEYS | TYPE_KEYS.get(kind or "", frozenset()))
    template, text = _template(doc)
    group_wait = _duration(doc, "group_wait", 0.0)
    timeout = _duration(doc, "timeout", 5.0) or 5.0
    threshold = _count(doc, "group_threshold", 0)
    max_retry = max(1, _count(doc, "max_retry", 1))
    options = _options(doc, kind) if kind else {}
    if not (kind and name and template) or len(doc.errors.errors) > before:
        return None
    return NotificationSpec(name, kind, template, text, group_wait, threshold, max_retry, timeout,
                            MappingProxyType(options), doc.path, doc.line)


def load_notifications(files: list[tuple[str, str]], errors: ErrorCollector) -> dict[str, NotificationSpec]:
    """Every document of the notification files, by `name` (a name given twice is an error)."""
    out: dict[str, NotificationSpec] = {}
    for path, text in files:
        try:
            docs = list(load_documents(text, path))
        except LoadError as err:
            errors.add(err)
            continue
        for line, data in docs:
            if data is None:
                continue
            doc = Doc(data if isinstance(data, dict) else {}, path, "", errors, line)
            if not isinstance(data, dict):
                doc.error(None, f"expected a mapping with name and type, got {kind_of(data)}")
                continue
            spec = _spec(doc)
            if spec is None:
                continue
            if spec.name in out:
                doc.error("name", f"notification {spec.name!r} is already defined in "
                                  f"{out[spec.name].path}:{out[spec.name].line}")
                continue
            out[spec.name] = spec
    return out
