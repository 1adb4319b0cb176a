"""synsec.setup below the CLI: reading a host under a root, log paths from nginx/Apache/vsftpd configs, the plan's
choice between config paths, default files and the journal, and no file read by two sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synsec.setup.detect import detect
from synsec.setup.logpaths import MAX_FILES, apache_logs, nginx_logs, vsftpd_logs
from synsec.setup.plan import make_plan
from synsec.setup.root import Root
from synsec.setup.services import SERVICES


def put(root: Path, rel: str, text: str = "") -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def test_absolute_symlinks_resolve_inside_the_root(tmp_path):
    """An absolute link is followed below the root, never on the machine running the test; a loop is no path."""
    put(tmp_path, "srv/logs/a.log", "x")
    os.symlink("/srv/logs", tmp_path / "logs")
    os.symlink("/loop2", tmp_path / "loop1")
    os.symlink("/loop1", tmp_path / "loop2")
    os.symlink("/etc/hostname", tmp_path / "hostname")     # exists on the test machine, not in the root
    root = Root(tmp_path)
    assert root.files("/logs/*.log") == ["/logs/a.log"] and root.read_text("/logs/a.log") == "x"
    assert root.host("/loop1/x") is None and not root.exists("/loop1")
    assert not root.exists("/hostname") and root.read_text("/hostname") is None


def test_nginx_directives_includes_and_unusable_paths(tmp_path):
    """access_log/error_log from nginx.conf and its includes (quoted, commented, in blocks); off, syslog:,
    /dev/stderr and variables are left out with a note; a file including itself is read once."""
    put(tmp_path, "etc/nginx/nginx.conf", 'http {\n # access_log /commented.log;\n access_log "/l/a.log" main;\n'
        " error_log /dev/stderr;\n include conf.d/*.conf;\n include /etc/nginx/nginx.conf;\n}\n")
    put(tmp_path, "etc/nginx/conf.d/site.conf", "server { access_log /l/$host.log; access_log /l/b.log;\n"
        "  location / { access_log off; error_log logs/e.log; } }\n")
    paths, notes = nginx_logs(Root(tmp_path), "/etc/nginx/nginx.conf")
    assert paths == ["/l/a.log", "/l/b.log", "/usr/share/nginx/logs/e.log"]
    assert len(notes) == 3 and any("$host" in n for n in notes) and any("off" in n for n in notes)


def test_nginx_include_fan_out_is_bounded(tmp_path):
    """More config files than MAX_FILES are not read (a note says so)."""
    put(tmp_path, "etc/nginx/nginx.conf", "include /etc/nginx/d/*;\n")
    for i in range(MAX_FILES + 5):
        put(tmp_path, f"etc/nginx/d/{i:03}", f"access_log /l/{i}.log;\n")
    paths, notes = nginx_logs(Root(tmp_path), "/etc/nginx/nginx.conf")
    assert len(paths) == MAX_FILES - 1 and any("more than" in n for n in notes)


def test_apache_debian_and_rhel_layouts(tmp_path):
    """Debian: ${APACHE_LOG_DIR} from envvars, IncludeOptional sites; a piped log is left out. RHEL: a relative
    path is below ServerRoot."""
    put(tmp_path, "etc/apache2/envvars", "export APACHE_LOG_DIR=/srv/apache$SUFFIX\n")
    put(tmp_path, "etc/apache2/apache2.conf", "ErrorLog ${APACHE_LOG_DIR}/error.log\n"
        "IncludeOptional sites-enabled/*.conf\n")
    put(tmp_path, "etc/apache2/sites-enabled/000-default.conf", "<VirtualHost *:80>\n"
        "  CustomLog ${APACHE_LOG_DIR}/access.log \\\n    combined\n"
        '  CustomLog "|/usr/bin/rotatelogs /x 86400" common\n</VirtualHost>\n')
    paths, notes = apache_logs(Root(tmp_path), "/etc/apache2/apache2.conf")
    assert paths == ["/srv/apache/error.log", "/srv/apache/access.log"] and "rotatelogs" in notes[0]
    put(tmp_path, "etc/httpd/conf/httpd.conf", 'ServerRoot "/etc/httpd"\nErrorLog "logs/error_log"\n'
        "TransferLog /var/log/httpd/x_log\n")
    assert apache_logs(Root(tmp_path), "/etc/httpd/conf/httpd.conf")[0] == [
        "/etc/httpd/logs/error_log", "/var/log/httpd/x_log"]


def test_vsftpd_log_file(tmp_path):
    put(tmp_path, "etc/vsftpd.conf", "listen=YES\nvsftpd_log_file=/srv/ftp.log\n")
    assert vsftpd_logs(Root(tmp_path), "/etc/vsftpd.conf") == (["/srv/ftp.log"], [])


def test_shared_log_file_is_read_once(tmp_path):
    """postfix and dovecot both log to mail.log: postfix reads it, dovecot gets a note and no document."""
    for rel in ("usr/sbin/postfix", "usr/sbin/dovecot", "var/log/mail.log"):
        put(tmp_path, rel)
    host, found = detect(Root(tmp_path))
    plan = make_plan(host, found)
    assert [f.service.name for f in plan.found] == ["postfix", "dovecot"]
    assert [(s.service, s.paths) for s in plan.sources] == [("postfix", ("/var/log/mail.log",))]
    assert any("dovecot: /var/log/mail.log is already read" in n for n in plan.notes)
    assert plan.collections == ("crowdsecurity/postfix", "crowdsecurity/dovecot")


@pytest.mark.parametrize("journal,expected", [
    (True, ("journalctl", ("_SYSTEMD_UNIT=sshd.service",))),
    (False, ("file", ("/var/log/auth.log", "/var/log/secure", "/var/log/sshd.log"))),
])
def test_journal_only_when_kept_and_no_file(tmp_path, journal, expected):
    """No sshd log file: the journal of its unit when the host keeps one, else CrowdSec's paths, watched."""
    put(tmp_path, "usr/lib/systemd/system/sshd.service")
    if journal:
        (tmp_path / "run/systemd/journal").mkdir(parents=True)
    host, found = detect(Root(tmp_path))
    (src,) = make_plan(host, found).sources
    assert (src.kind, src.filters or src.paths) == expected


def test_syslog_listener_is_a_source_that_needs_linux(tmp_path):
    """--syslog-listen adds a syslog listener document read by crowdsecurity/linux (added when nothing brought
    it); declining linux drops it; a bad ADDR:PORT is a usage error."""
    from click.testing import CliRunner

    from synsec.cli.main import cli

    put(tmp_path, "usr/sbin/vsftpd")
    host, found = detect(Root(tmp_path))
    plan = make_plan(host, found, ("127.0.0.1", 5514))
    assert plan.sources[-1].document() == {"source": "syslog", "listen_addr": "127.0.0.1", "listen_port": 5514,
                                           "labels": {"type": "syslog"}}
    assert plan.collections[0] == "crowdsecurity/linux"
    assert [s.kind for s in plan.keep(["crowdsecurity/vsftpd"]).sources] == ["file"]
    res = CliRunner().invoke(cli, ["setup", "--dry-run", "--root", str(tmp_path), "--syslog-listen", "514"])
    assert res.exit_code == 2 and "expected ADDR:PORT" in res.output


def test_every_entry_is_data():
    """Each service names a collection, a log type and some evidence, and its config reader exists."""
    from synsec.setup.logpaths import READERS

    assert len({s.name for s in SERVICES}) == len(SERVICES)
    for s in SERVICES:
        assert s.collections and s.log_type and (s.binaries or s.configs or s.units or s.processes)
        assert all(p.startswith("/") for p in s.log_files)
        assert not s.config_logs or s.config_logs in READERS


def test_paths_that_cannot_be_looked_up_are_absent(tmp_path):
    """A path the OS refuses to look up (here a name too long; for a non-root user, a directory it may not
    search) is absent, never an exception."""
    put(tmp_path, "etc/hostname")
    long = "/etc/" + "a" * 300
    root = Root(tmp_path)
    assert root.host(long + "/x") is None
    assert not root.exists(long) and not root.is_file(long) and root.read_text(long) is None
    assert root.files(long + "/*.log") == [] and root.glob(long) == []


def test_units_render_and_warn_about_protect_home():
    """The run unit gets only the log groups the host has; a synsec below /root is reported as hidden."""
    from synsec.setup.units import hidden_paths, render_units

    units = render_units("/opt/synsec/bin/synsec", "/etc/synsec", "/etc/synsec/acquis.yaml", "127.0.0.1:8080",
                         frozenset({"adm", "users"}))
    assert "SupplementaryGroups=adm\n" in units["synsec-run.service"]
    assert "SupplementaryGroups" not in units["synsec-api.service"]
    (warning,) = hidden_paths("/opt/synsec/bin/synsec", "/root/.venv/bin/synsec", "/etc/synsec")
    assert warning.startswith("/root/.venv/bin/synsec is below") and "ProtectHome" in warning
