"""The services `synsec setup` knows: one data entry each (evidence → collection → logs), no code per service.

An entry is found on a host when one of its `binaries`, `configs` or systemd `units` exists under the root, or
one of its `processes` runs. Its logs are the paths its config names (`config_logs`: a reader of
synsec.setup.logpaths), else the existing `log_files` (CrowdSec's defaults), else, when it logs to journald
(`journal`) and the host keeps a journal, a `journalctl` source on its unit. Log types and paths follow
CrowdSec's `detect.yaml` and wizard; every collection named here exists in CrowdSec's 1.4.6 hub.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Service", "SERVICES", "UNIT_DIRS", "JOURNAL_DIRS", "SYSTEMD_BOOTED", "JOURNAL_TYPE"]

# Where systemd unit files live (relative to the root), and what says a host runs systemd and keeps a journal.
UNIT_DIRS = ("etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system")
SYSTEMD_BOOTED = "run/systemd/system"              # sd_booted(3)
JOURNAL_DIRS = ("run/systemd/journal", "var/log/journal")
JOURNAL_TYPE = "syslog"                            # journalctl lines are syslog-like: the syslog parsers read them


@dataclass(frozen=True)
class Service:
    name: str
    collections: tuple[str, ...]
    log_type: str                                  # labels.type of its log files
    log_files: tuple[str, ...] = ()                # CrowdSec's default paths (globs allowed), absolute
    binaries: tuple[str, ...] = ()                 # evidence, relative to the root
    configs: tuple[str, ...] = ()
    units: tuple[str, ...] = ()                    # unit file names; the `.service` ones filter the journal
    processes: tuple[str, ...] = ()                # /proc/PID/comm values
    journal: bool = False                          # logs through syslog/journald (its journal is readable)
    journal_units: tuple[str, ...] = ()            # the _SYSTEMD_UNIT of its lines, when not its .service units
    config_logs: str = ""                          # a synsec.setup.logpaths reader, "" for none
    base: bool = False                             # the OS entry: its collection is the others' base


_SYSLOG_MAIL = ("/var/log/mail.log", "/var/log/maillog")

SERVICES: tuple[Service, ...] = (
    Service("linux", ("crowdsecurity/linux",), "syslog",
            ("/var/log/syslog", "/var/log/messages", "/var/log/kern.log"),
            configs=("etc/os-release", "usr/lib/os-release"), base=True),
    Service("sshd", ("crowdsecurity/sshd",), "syslog", ("/var/log/auth.log", "/var/log/secure", "/var/log/sshd.log"),
            binaries=("usr/sbin/sshd",), configs=("etc/ssh/sshd_config",),
            units=("ssh.service", "sshd.service", "ssh.socket", "sshd.socket"), processes=("sshd",), journal=True),
    Service("nginx", ("crowdsecurity/nginx",), "nginx", ("/var/log/nginx/*.log",),
            binaries=("usr/sbin/nginx",), configs=("etc/nginx/nginx.conf",), units=("nginx.service",),
            processes=("nginx",), config_logs="nginx"),
    Service("apache2", ("crowdsecurity/apache2",), "apache2",
            ("/var/log/apache2/*.log", "/var/log/httpd/*log"),
            binaries=("usr/sbin/apache2", "usr/sbin/httpd"),
            configs=("etc/apache2/apache2.conf", "etc/httpd/conf/httpd.conf"),
            units=("apache2.service", "httpd.service"), processes=("apache2", "httpd"), config_logs="apache"),
    Service("postfix", ("crowdsecurity/postfix",), "syslog", _SYSLOG_MAIL,
            binaries=("usr/sbin/postfix",), configs=("etc/postfix/main.cf",),
            units=("postfix.service", "postfix@.service"), journal=True,
            journal_units=("postfix@-.service",)),                 # Debian's instance of postfix@.service
    Service("dovecot", ("crowdsecurity/dovecot",), "syslog", _SYSLOG_MAIL,
            binaries=("usr/sbin/dovecot",), configs=("etc/dovecot/dovecot.conf",), units=("dovecot.service",),
            processes=("dovecot",), journal=True),
    Service("exim", ("crowdsecurity/exim",), "exim", ("/var/log/exim4/mainlog", "/var/log/exim_mainlog"),
            binaries=("usr/sbin/exim4", "usr/sbin/exim"), configs=("etc/exim4/exim4.conf.template",),
            units=("exim4.service", "exim.service"), processes=("exim4", "exim")),
    Service("mysql", ("crowdsecurity/mysql",), "mysql", ("/var/log/mysql/error.log",),
            binaries=("usr/sbin/mysqld",), units=("mysql.service",), processes=("mysqld",)),
    Service("mariadb", ("crowdsecurity/mariadb",), "mariadb", ("/var/log/mysql/error.log",),
            binaries=("usr/sbin/mariadbd",), units=("mariadb.service",), processes=("mariadbd",), journal=True),
    Service("pgsql", ("crowdsecurity/pgsql",), "postgres", ("/var/log/postgresql/*.log",),
            units=("postgresql.service",), configs=("etc/postgresql",), processes=("postgres",)),
    Service("vsftpd", ("crowdsecurity/vsftpd",), "vsftpd", ("/var/log/vsftpd.log", "/var/log/vsftpd/*.log"),
            binaries=("usr/sbin/vsftpd",), configs=("etc/vsftpd.conf", "etc/vsftpd/vsftpd.conf"),
            units=("vsftpd.service",), processes=("vsftpd",), config_logs="vsftpd"),
    Service("proftpd", ("crowdsecurity/proftpd",), "proftpd", ("/var/log/proftpd/*.log",),
            binaries=("usr/sbin/proftpd",), configs=("etc/proftpd/proftpd.conf",), units=("proftpd.service",),
            processes=("proftpd",)),
    Service("haproxy", ("crowdsecurity/haproxy",), "syslog", ("/var/log/haproxy.log",),
            binaries=("usr/sbin/haproxy",), configs=("etc/haproxy/haproxy.cfg",), units=("haproxy.service",),
            processes=("haproxy",), journal=True),
    Service("smb", ("crowdsecurity/smb",), "smb", ("/var/log/samba/log.*",),
            binaries=("usr/sbin/smbd",), configs=("etc/samba/smb.conf",), units=("smbd.service", "smb.service"),
            processes=("smbd",)),
    Service("asterisk", ("crowdsecurity/asterisk",), "asterisk", ("/var/log/asterisk/*.log",),
            binaries=("usr/sbin/asterisk",), units=("asterisk.service",), processes=("asterisk",)),
    Service("caddy", ("crowdsecurity/caddy",), "caddy", ("/var/log/caddy/*.log",),
            binaries=("usr/bin/caddy",), configs=("etc/caddy/Caddyfile",), units=("caddy.service",),
            processes=("caddy",)),
    Service("suricata", ("crowdsecurity/suricata",), "suricata-fastlogs", ("/var/log/suricata/fast.log",),
            binaries=("usr/bin/suricata",), configs=("etc/suricata/suricata.yaml",), units=("suricata.service",),
            processes=("Suricata-Main", "suricata")),
)
