"""Hardened systemd units for `synsec run` and `synsec api` (pure text; `synsec setup --systemd` writes them).

Both run as one dynamic user (`DynamicUser=yes`, `User=synsec`: the same UID for both while either runs) with
the state in `StateDirectory=synsec` (/var/lib/synsec, the only writable path: `ProtectSystem=strict`); the
config directory is read-only; the logs are read through the groups that own them (`adm` on Debian, and
`systemd-journal` for journal sources), when the host has those groups.
"""

from __future__ import annotations

import shlex

__all__ = ["render_units", "hidden_paths", "STATE_DIR", "CONFIG_DIR", "LOG_GROUPS", "UNIT_NAMES"]

STATE_DIR = "/var/lib/synsec"
CONFIG_DIR = "/etc/synsec"
LOG_GROUPS = ("adm", "systemd-journal")
UNIT_NAMES = ("synsec-run.service", "synsec-api.service")

_HARDENING = """\
DynamicUser=yes
User=synsec
StateDirectory=synsec
StateDirectoryMode=0700
Environment=SYNSEC_STATE_DIR={state_dir}
Environment=SYNSEC_CONFIG_DIR={config_dir}
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
"""


def hidden_paths(*paths: str) -> list[str]:
    """Warnings for the paths the units need (synsec, the config dir) that ProtectHome=yes hides from them."""
    return [f"{p} is below /home, /root or /run/user, which ProtectHome=yes hides from the units: use a path "
            "elsewhere (e.g. synsec in a venv in /opt/synsec, the config in /etc/synsec) and rerun with --force"
            for p in paths if p.startswith(("/home/", "/root/", "/run/user/"))]


def _unit(description: str, exec_start: list[str], groups: list[str], after: str, config_dir: str) -> str:
    lines = ["[Unit]", f"Description={description}", f"After={after}", "", "[Service]", "Type=simple",
             "ExecStart=" + " ".join(shlex.quote(a) for a in exec_start),
             "Restart=on-failure", "RestartSec=5s", "KillSignal=SIGTERM", "TimeoutStopSec=30s"]
    if groups:
        lines.append("SupplementaryGroups=" + " ".join(groups))
    body = "\n".join(lines) + "\n" + _HARDENING.format(state_dir=STATE_DIR, config_dir=config_dir)
    return body + "\n[Install]\nWantedBy=multi-user.target\n"


def render_units(synsec: str, config_dir: str, acquis: str, listen: str, groups) -> dict[str, str]:
    """{unit file name: text} for `synsec run --acquis ACQUIS` and `synsec api --listen LISTEN`; `groups` are the
    host's groups (only LOG_GROUPS present on it are added to `synsec run`)."""
    run_groups = [g for g in LOG_GROUPS if g in groups]
    run = _unit("synsec: detect attacks in the logs (synsec run)",
                [synsec, "run", "--acquis", acquis, "--config-dir", config_dir], run_groups,
                "network.target", config_dir)
    api = _unit("synsec: the decisions API for bouncers (synsec api)",
                [synsec, "api", "--listen", listen], [], "network.target", config_dir)
    return dict(zip(UNIT_NAMES, (run, api)))
