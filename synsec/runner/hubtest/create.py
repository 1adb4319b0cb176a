"""`hubtest create`: a new test's skeleton, as `cscli hubtest create` writes it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from synsec.runner.hubtest.config import CONFIG, PARSER_ASSERT, SCENARIO_ASSERT, tests_dir

__all__ = ["create_test", "DEFAULT_PARSERS"]

DEFAULT_PARSERS = ("syslog-logs", "dateparse-enrich")   # cscli adds crowdsecurity/ ones
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def _default_parsers(names: list[str]) -> list[str]:
    """cscli's crowdsecurity/syslog-logs and dateparse-enrich, or the hub's own parsers of those names."""
    out = []
    for short in DEFAULT_PARSERS:
        mine = sorted(n for n in names if n.endswith("/" + short))
        out.append(f"crowdsecurity/{short}" if f"crowdsecurity/{short}" in mine or not mine else mine[0])
    return out


def create_test(hub: Path, name: str, log_type: str, parsers=(), scenarios=(), postoverflows=(),
                ignore_parsers: bool = False, hub_parsers=()) -> Path:
    """Write `<hub>/.tests/<name>/`; FileExistsError when it exists, ValueError for a name that is not one.
    `hub_parsers`: the parser names of the hub, to pick the default ones from."""
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a test name (letters, digits, _ . + -)")
    test = tests_dir(hub) / name
    if test.exists():
        raise FileExistsError(f"test {name!r} already exists in {tests_dir(hub)}")
    test.mkdir(parents=True)
    for empty in (f"{name}.log", PARSER_ASSERT, SCENARIO_ASSERT):
        (test / empty).touch()
    config = {"parsers": list(parsers) + [p for p in _default_parsers(list(hub_parsers)) if p not in parsers],
              "scenarios": list(scenarios) or [""], "postoverflows": list(postoverflows) or [""],
              "log_file": f"{name}.log", "log_type": log_type, "ignore_parsers": ignore_parsers}
    (test / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return test
