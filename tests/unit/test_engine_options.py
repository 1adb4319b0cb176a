"""One set of engine options: the same flags on every command that builds an engine, one `from_flags`."""

from __future__ import annotations

from pathlib import Path

import pytest

from synsec.assembly.build import ASN_MMDB, CITY_MMDB, EngineOptions
from synsec.cli.engine_options import ENGINE_FLAGS, engine_argv
from synsec.cli.main import cli

ENGINE_COMMANDS = ("replay", "run", "worker", "up")


def _engine_params(command) -> dict[str, tuple]:
    return {p.name: tuple(p.opts) for p in command.params if p.name in ENGINE_FLAGS}


@pytest.mark.parametrize("name", ENGINE_COMMANDS)
def test_every_engine_command_takes_the_engine_flags(name):
    """replay, run, worker and up each take --config-dir, --data-dir, --patterns-dir, --geoip-city, --geoip-asn."""
    assert _engine_params(cli.commands[name]) == _engine_params(cli.commands["replay"])
    assert set(_engine_params(cli.commands[name])) == set(ENGINE_FLAGS)


def test_ccscli_explain_takes_the_engine_flags_but_config_dir():
    """ccscli explain takes replay's engine flags, except --config-dir, which ccscli itself takes."""
    from synsec.cli.ccscli import ccscli

    replay = _engine_params(cli.commands["replay"])
    assert _engine_params(ccscli.commands["explain"]) == {k: v for k, v in replay.items() if k != "config_dir"}
    assert {p.name for p in ccscli.params} >= {"config_dir"}


def test_up_gives_its_worker_every_engine_flag(tmp_path):
    """engine_argv (what `synsec up` adds to its worker's command line) parses back to the same values."""
    for d in ("cfg", "d1", "d2", "p"):
        (tmp_path / d).mkdir()
    for f in ("city.mmdb", "asn.mmdb"):
        (tmp_path / f).write_bytes(b"")
    values = {"config_dir": str(tmp_path / "cfg"), "data_dirs": (str(tmp_path / "d1"), str(tmp_path / "d2")),
              "pattern_dirs": (str(tmp_path / "p"),), "geoip_city": str(tmp_path / "city.mmdb"),
              "geoip_asn": str(tmp_path / "asn.mmdb"), "dns_server": "127.0.0.1:5353"}
    ctx = cli.commands["worker"].make_context("worker", engine_argv(**values))
    assert {k: ctx.params[k] for k in ENGINE_FLAGS} == values


def test_geolite_databases_are_found_in_the_data_dirs(tmp_path):
    """Without --geoip-* flags, GeoLite2-City.mmdb / GeoLite2-ASN.mmdb are taken from the first data dir holding
    them (as CrowdSec's geoip-enrich reads its data dir), then from the content's data/; flags win."""
    first, second, cfg = tmp_path / "first", tmp_path / "second", tmp_path / "cfg"
    for d in (first, second, cfg / "data"):
        d.mkdir(parents=True)
    (second / CITY_MMDB).write_bytes(b"")
    (first / CITY_MMDB).write_bytes(b"")
    (cfg / "data" / ASN_MMDB).write_bytes(b"")
    opts = EngineOptions.from_flags(config_dir=cfg, data_dirs=(str(first), str(second)))
    assert (opts.geoip_city, opts.geoip_asn) == (first / CITY_MMDB, cfg / "data" / ASN_MMDB)
    flagged = EngineOptions.from_flags(config_dir=cfg, data_dirs=(str(first),), geoip_city="x.mmdb",
                                       geoip_asn="y.mmdb")
    assert (flagged.geoip_city, flagged.geoip_asn) == (Path("x.mmdb"), Path("y.mmdb"))
    none = EngineOptions.from_flags(config_dir=tmp_path / "empty")
    assert (none.geoip_city, none.geoip_asn) == (None, None)


@pytest.mark.parametrize("command", ["replay", "worker"])
@pytest.mark.parametrize("how", ["flag", "data-dir"])
def test_a_file_that_is_not_a_maxmind_db_is_a_load_error(tmp_path, command, how):
    """A garbage GeoIP database (given by flag or found in the data dir) stops the command with
    `path:1: (file): not a readable MaxMind DB`, exit 1, never a traceback (the worker before any broker call)."""
    from click.testing import CliRunner

    data = tmp_path / "data"
    data.mkdir()
    bad = data / CITY_MMDB
    bad.write_bytes(b"\x00garbage, not a MaxMind DB\n" * 40)
    log = tmp_path / "auth.log"
    log.write_text("Nov 22 10:00:01 host sshd[1]: Invalid user admin from 203.0.113.5 port 22\n")
    flags = ["--geoip-city", str(bad)] if how == "flag" else ["--data-dir", str(data)]
    args = {"replay": ["replay", str(log), "--type", "syslog", "--no-store"],
            "worker": ["worker", "--broker", "kafka://127.0.0.1:9"]}[command] + flags
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert f"{bad}:1: (file): not a readable MaxMind DB" in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output    # a usage error
