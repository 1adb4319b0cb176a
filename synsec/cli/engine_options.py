"""The engine flags, one set for every command that builds an engine (replay, run, worker, up, ccscli explain).

    @engine_options
    def replay(..., config_dir, data_dirs, pattern_dirs, geoip_city, geoip_asn, ...):
        opts = EngineOptions.from_flags(config_dir=..., data_dirs=data_dirs, ..., reference_year=year)

`engine_argv` writes the same flags back as a command line (`synsec up` starts its worker with them), so a
worker decides as `synsec replay` does with the same flags. `content_dir` is the one answer to "which content
runs": --config-dir, else the config directory once it holds installed content, else synsec's own (docs/hub.md).
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["engine_options", "engine_options_but_config_dir", "engine_argv", "ENGINE_FLAGS", "resolve_config_dir",
           "content_dir"]

ENGINE_FLAGS = ("config_dir", "data_dirs", "pattern_dirs", "geoip_city", "geoip_asn", "dns_server")

_DIR = click.Path(file_okay=False, exists=True)
_FILE = click.Path(dir_okay=False, exists=True)
_OPTIONS = (
    click.option("--config-dir", type=_DIR,
                 help="CrowdSec-layout content directory. Default: the config directory ($SYNSEC_CONFIG_DIR, "
                      "/etc/synsec as root, ~/.config/synsec) once it holds installed content, else synsec's own."),
    click.option("--data-dir", "data_dirs", multiple=True, type=_DIR,
                 help="Data files of the content, and GeoLite2-City.mmdb / GeoLite2-ASN.mmdb (repeatable)."),
    click.option("--patterns-dir", "pattern_dirs", multiple=True, type=_DIR,
                 help="Extra grok pattern files (repeatable)."),
    click.option("--geoip-city", type=_FILE,
                 help="Country/City mmdb for GeoIpCity (default: GeoLite2-City.mmdb of a data dir)."),
    click.option("--geoip-asn", type=_FILE,
                 help="ASN mmdb for GeoIpASN/IpToRange (default: GeoLite2-ASN.mmdb of a data dir)."),
    click.option("--dns-server", metavar="IP:PORT", envvar="SYNSEC_DNS_SERVER", show_envvar=True,
                 help="DNS server the reverse_dns enricher asks (UDP); `off`: no lookups. Default: the system "
                      "resolver (docs/enrichment.md)."),
)


def engine_options(fn):
    """Add --config-dir, --data-dir, --patterns-dir, --geoip-city, --geoip-asn and --dns-server to a click
    command."""
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def engine_options_but_config_dir(fn):
    """The engine flags but --config-dir, for a subcommand whose group takes it (`ccscli --config-dir … explain`)."""
    for option in reversed(_OPTIONS[1:]):
        fn = option(fn)
    return fn


def engine_argv(config_dir=None, data_dirs=(), pattern_dirs=(), geoip_city=None, geoip_asn=None,
                dns_server=None) -> list[str]:
    """The engine flags as command-line arguments (for a child `synsec worker`)."""
    argv = ["--config-dir", str(config_dir)] if config_dir else []
    argv += [a for d in data_dirs for a in ("--data-dir", str(d))]
    argv += [a for d in pattern_dirs for a in ("--patterns-dir", str(d))]
    argv += ["--geoip-city", str(geoip_city)] if geoip_city else []
    argv += ["--geoip-asn", str(geoip_asn)] if geoip_asn else []
    argv += ["--dns-server", dns_server] if dns_server else []
    return argv


def resolve_config_dir(given=None) -> tuple[Path, str]:
    """(content directory, why): `given` (--config-dir), else the config directory ($SYNSEC_CONFIG_DIR, /etc/synsec
    as root, ~/.config/synsec) when it holds installed content, else synsec's own content (scenarios/)."""
    from synsec.content.loader import default_content_dir
    from synsec.hub.install import default_config_dir, has_installed_content

    if given:
        return Path(given), "--config-dir"
    config = default_config_dir()
    if has_installed_content(config):
        return config, "config directory"
    return default_content_dir(), f"synsec's own content: nothing installed in {config}"


def content_dir(given=None) -> Path:
    """`resolve_config_dir`, said once on stderr at the start of a command (so a user knows which content runs)."""
    path, why = resolve_config_dir(given)
    click.echo(f"content: {path} ({why})", err=True)
    return path
