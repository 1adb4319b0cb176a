"""Log paths read from a service's own configuration, where that is cheap: nginx `access_log`/`error_log`,
Apache `CustomLog`/`ErrorLog`/`TransferLog`, vsftpd `vsftpd_log_file`. Includes are followed (at most
MAX_FILES files); a path that is not a plain file path (off, syslog:, a pipe, /dev/stdout, a variable) is left out
with a note. A reader gets the root and the config file found; it returns (paths, notes)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

from synsec.setup.root import Root

__all__ = ["READERS", "nginx_logs", "apache_logs", "vsftpd_logs", "MAX_FILES"]

MAX_FILES = 64


def _usable(path: str, where: str, notes: list) -> str | None:
    """`path` when it names a log file synsec can tail, else None and a note."""
    if path in ("off", "none") or path.startswith(("syslog:", "memory:", "|", "/dev/", "stderr")) or "$" in path:
        notes.append(f"{where}: {path}: not a log file synsec can read; left out")
        return None
    return path


class _Walk:
    """Config files read once each, includes expanded relative to `prefix`, at most MAX_FILES of them."""

    def __init__(self, root: Root, prefix: str) -> None:
        self.root, self.prefix, self.seen, self.notes = root, prefix, set(), []

    def includes(self, pattern: str) -> list[str]:
        pattern = pattern if pattern.startswith("/") else str(PurePosixPath(self.prefix) / pattern)
        return self.root.files(pattern)

    def text(self, path: str) -> str | None:
        if path in self.seen:
            return None
        if len(self.seen) >= MAX_FILES:
            self.notes.append(f"{path}: more than {MAX_FILES} config files; not read")
            return None
        self.seen.add(path)
        return self.root.read_text(path)


_NGINX_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|(#[^\n]*)|([{};])|([^\s{};"\'#]+)')


def _nginx_statements(text: str):
    """(directive, args) of each `name args;` statement, blocks flattened."""
    words: list[str] = []
    for m in _NGINX_TOKEN.finditer(text):
        dq, sq, comment, punct, word = m.groups()
        if comment is not None:
            continue
        if punct is not None:
            if punct == ";" and words:
                yield words[0], words[1:]
            words = []
        else:
            words.append(dq if dq is not None else sq if sq is not None else word)


def nginx_logs(root: Root, config: str) -> tuple[list[str], list[str]]:
    """`access_log` and `error_log` paths of nginx.conf and the files it includes."""
    walk = _Walk(root, str(PurePosixPath(config).parent))
    paths: list[str] = []

    def read(path: str) -> None:
        text = walk.text(path)
        if text is None:
            return
        for name, args in _nginx_statements(text):
            if name == "include" and args:
                for inc in walk.includes(args[0]):
                    read(inc)
            elif name in ("access_log", "error_log") and args:
                found = _usable(args[0], f"{path}: {name}", walk.notes)
                if found and not found.startswith("/"):
                    found = str(PurePosixPath("/usr/share/nginx") / found)     # nginx's prefix on Debian
                if found and found not in paths:
                    paths.append(found)

    read(config)
    return paths, walk.notes


_APACHE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENVVARS_EXPORT = re.compile(r"^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(\S*)", re.M)


def _apache_lines(text: str):
    """Logical lines (continuations joined), comments dropped, split into words (quotes kept together)."""
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield [a or b or c for a, b, c in re.findall(r'"([^"]*)"|\'([^\']*)\'|(\S+)', line)]


def apache_logs(root: Root, config: str) -> tuple[list[str], list[str]]:
    """`CustomLog`, `ErrorLog` and `TransferLog` paths of apache2.conf/httpd.conf and their includes; Debian's
    `${APACHE_LOG_DIR}` comes from the `envvars` beside apache2.conf."""
    server_root = str(PurePosixPath(config).parent)
    if server_root.endswith("/conf"):                                      # RHEL: /etc/httpd/conf/httpd.conf
        server_root = server_root[:-len("/conf")]
    env = {"APACHE_LOG_DIR": "/var/log/apache2"}
    envvars = root.read_text(str(PurePosixPath(config).parent / "envvars")) or ""
    for name, value in _ENVVARS_EXPORT.findall(envvars):
        env[name] = re.sub(r"\$[A-Za-z_]*|\$\{[^}]*\}", "", value.strip("'\""))    # drop $SUFFIX
    walk = _Walk(root, server_root)
    paths: list[str] = []

    def read(path: str) -> None:
        text = walk.text(path)
        if text is None:
            return
        for words in _apache_lines(text):
            name = words[0].lower()
            args = [_APACHE_VAR.sub(lambda m: env.get(m.group(1), m.group(0)), a) for a in words[1:]]
            if name == "serverroot" and args:
                walk.prefix = args[0]
            elif name in ("include", "includeoptional") and args:
                for inc in sorted(walk.includes(args[0])):
                    read(inc)
            elif name in ("customlog", "errorlog", "transferlog") and args:
                found = _usable(args[0], f"{path}: {words[0]}", walk.notes)
                if found and not found.startswith("/"):
                    found = str(PurePosixPath(walk.prefix) / found)
                if found and found not in paths:
                    paths.append(found)

    read(config)
    return paths, walk.notes


def vsftpd_logs(root: Root, config: str) -> tuple[list[str], list[str]]:
    """vsftpd.conf's `vsftpd_log_file` (when set)."""
    text = root.read_text(config) or ""
    notes: list[str] = []
    found = re.findall(r"^\s*vsftpd_log_file\s*=\s*(\S+)\s*$", text, re.M)
    path = _usable(found[-1], f"{config}: vsftpd_log_file", notes) if found else None
    return ([path] if path and path.startswith("/") else []), notes


READERS: dict[str, Callable[[Root, str], tuple[list[str], list[str]]]] = {
    "nginx": nginx_logs, "apache": apache_logs, "vsftpd": vsftpd_logs,
}
