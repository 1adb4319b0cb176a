"""Fake host trees for `synsec setup --root`: a Debian-like host, a journald-only host and a container-like host."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["debian_host", "journald_host", "container_host", "ftp_host", "tree_digest"]

NGINX_CONF = """\
user www-data;
worker_processes auto;  # comment with access_log /not/this.log;
events { worker_connections 768; }
http {
    access_log /srv/logs/nginx/access.log;
    error_log "/srv/logs/nginx/error.log" warn;
    include /etc/nginx/conf.d/*.conf;
    include /etc/nginx/sites-enabled/*;
}
"""
NGINX_SITE = """\
server {
    listen 80 default_server;
    access_log /srv/logs/nginx/site.access.log combined;
    location /health { access_log off; }
    location /x { access_log syslog:server=127.0.0.1 combined; }
}
"""


def _put(root: Path, rel: str, text: str = "") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _base(root: Path, groups=("root", "adm", "systemd-journal", "www-data")) -> None:
    _put(root, "etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    _put(root, "etc/group", "".join(f"{g}:x:{i}:\n" for i, g in enumerate(groups)))


def _process(root: Path, pid: int, comm: str) -> None:
    _put(root, f"proc/{pid}/comm", comm + "\n")


def debian_host(root: Path) -> Path:
    """systemd + journal, sshd and nginx running, rsyslog files, nginx logging to paths set in its config (one
    site enabled through an absolute symlink, as Debian does)."""
    _base(root)
    (root / "run/systemd/system").mkdir(parents=True)
    (root / "var/log/journal").mkdir(parents=True)
    for rel in ("usr/sbin/sshd", "etc/ssh/sshd_config", "lib/systemd/system/ssh.service", "usr/sbin/nginx",
                "lib/systemd/system/nginx.service", "var/log/auth.log", "var/log/syslog",
                "srv/logs/nginx/access.log"):
        _put(root, rel)
    _put(root, "etc/nginx/nginx.conf", NGINX_CONF)
    _put(root, "etc/nginx/sites-available/default", NGINX_SITE)
    (root / "etc/nginx/sites-enabled").mkdir(parents=True)
    os.symlink("/etc/nginx/sites-available/default", root / "etc/nginx/sites-enabled/default")
    _process(root, 101, "sshd")
    _process(root, 202, "nginx")
    _process(root, 303, "systemd")
    return root


def journald_host(root: Path) -> Path:
    """systemd + journal only (no rsyslog: no /var/log/auth.log, no syslog): sshd, postfix and dovecot."""
    _base(root)
    for rel in ("run/systemd/system", "run/systemd/journal", "var/log/journal"):
        (root / rel).mkdir(parents=True)
    for rel in ("usr/sbin/sshd", "etc/ssh/sshd_config", "lib/systemd/system/ssh.service", "usr/sbin/postfix",
                "etc/postfix/main.cf", "lib/systemd/system/postfix.service", "lib/systemd/system/postfix@.service",
                "usr/sbin/dovecot", "lib/systemd/system/dovecot.service"):
        _put(root, rel)
    _process(root, 1, "systemd")
    _process(root, 77, "sshd")
    return root


def container_host(root: Path) -> Path:
    """An nginx image: no systemd, no journal, nothing running, logs linked to /dev/stdout (the ssh client only)."""
    _base(root, groups=("root", "nginx"))
    _put(root, "usr/sbin/nginx")
    _put(root, "etc/ssh/ssh_config")
    _put(root, "etc/nginx/nginx.conf", "events {}\nhttp {\n  access_log /dev/stdout;\n  error_log /dev/stderr;\n}\n")
    (root / "var/log/nginx").mkdir(parents=True)
    os.symlink("/dev/stdout", root / "var/log/nginx/access.log")
    os.symlink("/dev/stderr", root / "var/log/nginx/error.log")
    return root


def ftp_host(root: Path, log: Path) -> Path:
    """vsftpd only, logging to `log` (a real path outside the root, so `synsec run` can follow what setup wrote)."""
    _base(root)
    _put(root, "usr/sbin/vsftpd")
    _put(root, "etc/vsftpd.conf", f"listen=YES\nvsftpd_log_file={log}\n")
    return root


def tree_digest(*dirs: Path) -> dict:
    """{path: bytes or link target} of every file below `dirs` (to show a run changed nothing)."""
    out = {}
    for d in dirs:
        for dirpath, dirnames, filenames in os.walk(d):
            for name in sorted(dirnames + filenames):
                p = Path(dirpath) / name
                if p.is_symlink():
                    out[str(p)] = "-> " + os.readlink(p)
                elif p.is_file():
                    out[str(p)] = p.read_bytes()
                else:
                    out[str(p)] = "dir"
    return out
