"""The installation's Central API credentials: CrowdSec's `online_api_credentials.yaml` (`url`, `login`,
`password`), kept in the state dir (mode 0600). Its presence is what turns the crowd on (CrowdSec's rule: an
installation shares and pulls when it has online credentials); `ccscli capi register` writes it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from synsec.content.yamlload import load_documents, where_of
from synsec.engine.errors import LoadError, Where
from synsec.store.files import private_dir

__all__ = ["Credentials", "CREDENTIALS_FILE", "credentials_path", "load_credentials", "save_credentials"]

CREDENTIALS_FILE = "online_api_credentials.yaml"
_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Credentials:
    url: str            # the Central API's base URL, e.g. http://127.0.0.1:8090/
    login: str          # the watcher's machine id
    password: str

    def __repr__(self) -> str:          # the password is a secret
        return f"Credentials(url={self.url!r}, login={self.login!r}, password='***')"


def credentials_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / CREDENTIALS_FILE


def check_url(url: str) -> str:
    """An http(s) URL with a host, ending with a slash (CrowdSec joins `v2/...` to it); ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return url if url.endswith("/") else url + "/"


def load_credentials(path: str | Path) -> Credentials | None:
    """The credentials in `path`, None when the file does not exist; LoadError naming file, line and field."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = path.read_bytes()
        if len(data) > _MAX_BYTES:
            raise LoadError(Where(str(path), 1, "(file)"), f"larger than {_MAX_BYTES} bytes")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise LoadError(Where(str(path), 1, "(file)"), f"unreadable: {err}") from None
    docs = list(load_documents(text, str(path)))
    doc = docs[0][1] if docs else None
    if not isinstance(doc, dict):
        raise LoadError(Where(str(path), docs[0][0] if docs else 1, "(file)"), "expected a mapping with url, "
                        "login and password")
    unknown = sorted(set(doc) - {"url", "login", "password"})
    if unknown:
        raise LoadError(where_of(doc, unknown[0], unknown[0], str(path)), "unknown key (expected url, login, "
                        "password)")
    values = {}
    for key in ("url", "login", "password"):
        value = doc.get(key)
        if not isinstance(value, str) or not value:
            raise LoadError(where_of(doc, key if key in doc else None, key, str(path)), "a non-empty string is "
                            "required")
        values[key] = value
    try:
        values["url"] = check_url(values["url"])
    except ValueError as err:
        raise LoadError(where_of(doc, "url", "url", str(path)), str(err)) from None
    return Credentials(**values)


def save_credentials(path: str | Path, creds: Credentials) -> Path:
    """Write the file (temp file then rename, mode 0600; its directory 0700)."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fd, 0o600)
        fh.write(yaml.safe_dump({"url": creds.url, "login": creds.login, "password": creds.password},
                                sort_keys=False))
        fh.flush()
        os.fsync(fd)
    os.replace(tmp, path)
    return path
