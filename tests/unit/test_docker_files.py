"""docker/ checked as data (no Docker daemon is needed): every service command parses with synsec's own click
CLI (unknown flags, missing arguments and bad values fail), every variable synsec is given is one it reads,
every depends_on target, volume, bind-mounted file and COPY source exists, and the image runs a declared
console script as a non-root user."""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
import yaml

from synsec.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE_FILES = ("compose.yaml", "compose.embedded.yaml")
CODE_DIRS = ("synsec", "streams", "connectors", "topologies")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_BROKER_KEYS = ("broker_url", "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password",
                "ssl_cafile", "ssl_certfile", "ssl_keyfile")


def dotenv() -> dict[str, str]:
    """docker/.env.example as compose reads a .env: KEY=VALUE lines, # comments."""
    out = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error}; an unset required variable fails the test."""
    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op and op.endswith("?"):
            pytest.fail(f"${{{name}}} is required ({arg}) and not set")
        return arg if op and op.endswith("-") else ""
    return _VAR.sub(one, text)


def compose(name: str, env: dict[str, str] | None = None) -> dict:
    return yaml.safe_load(interpolate((DOCKER / name).read_text(), dotenv() if env is None else env))


def synsec_services(doc: dict) -> dict[str, dict]:
    """The services that run the synsec image (built from docker/Dockerfile)."""
    return {name: svc for name, svc in doc["services"].items()
            if (svc.get("build") or {}).get("dockerfile") == "docker/Dockerfile"}


def bind_mounts(svc: dict) -> dict[str, Path]:
    """Container path -> repository path of the service's relative bind mounts (./x:/target[:ro])."""
    out = {}
    for spec in svc.get("volumes", []):
        source, target = spec.split(":")[:2]
        if source.startswith("."):
            out[target] = (DOCKER / source).resolve()
    return out


def to_repo(value: str, mounts: dict[str, Path]) -> str:
    """A container path under a bind mount, as the repository file it mounts (so click's exists checks hold)."""
    for target, source in mounts.items():
        if value == target or value.startswith(target + "/"):
            return str(source) + value[len(target):]
    return value


@contextmanager
def environment(env: dict[str, str]):
    """os.environ holding exactly `env` for the SYNSEC_* variables (what the container would see)."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("SYNSEC_")]:
        del os.environ[key]
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def parse(argv: list[str], env: dict[str, str] | None = None, mounts: dict[str, Path] | None = None):
    """`synsec ARGV` parsed by the real CLI down to its leaf command, without running it: the leaf's context.
    Raises click.UsageError (unknown flag or command, missing argument, bad value) as the command line would."""
    mounts = mounts or {}
    argv = [to_repo(a, mounts) for a in argv]
    env = {k: to_repo(str(v), mounts) for k, v in (env or {}).items()}
    with environment(env):
        ctx = cli.make_context("synsec", list(argv))
        cmd = cli
        while isinstance(cmd, click.Group):
            rest = [*getattr(ctx, "_protected_args", ()), *ctx.args]
            name, cmd, rest = cmd.resolve_command(ctx, rest)
            ctx = cmd.make_context(name, rest, parent=ctx)
        return ctx


def service_context(svc: dict):
    env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
    return parse(list(svc["command"]), env, bind_mounts(svc)), env


def all_synsec_services():
    return [(f, name, svc) for f in COMPOSE_FILES for name, svc in synsec_services(compose(f)).items()]


IDS = [f"{f}:{name}" for f, name, _ in all_synsec_services()]


def test_parser_refuses_bad_command_lines():
    """The checker fails on an unknown flag, an unknown command, a missing argument and a bad value."""
    for argv in (["worker", "--no-such-flag"], ["topics", "destroy"], ["replay"],
                 ["api", "--listen", "0.0.0.0:8080", "--auth-fail-limit", "0"], ["clickhouse"]):
        with pytest.raises(click.UsageError):
            parse(argv)
    assert parse(["worker", "--store", "rocksdb://"]).params["store"] == "rocksdb://"


@pytest.mark.parametrize("file,name,svc", all_synsec_services(), ids=IDS)
def test_service_command_parses(file, name, svc):
    """Each synsec service's command (after the image's `synsec` entrypoint) is a valid synsec command line."""
    assert isinstance(svc["command"], list), f"{file}:{name}: exec-form command (a list), not a shell string"
    ctx, _ = service_context(svc)
    assert ctx.command.callback is not None


@pytest.mark.parametrize("file,name,svc", all_synsec_services(), ids=IDS)
def test_service_env_is_read_by_synsec(file, name, svc):
    """Every variable a synsec service is given is a SYNSEC_* variable the code reads."""
    code = "\n".join(p.read_text() for d in CODE_DIRS for p in (ROOT / d).rglob("*.py"))
    for key in svc.get("environment") or {}:
        assert key.startswith("SYNSEC_") and f'"{key}"' in code, f"{file}:{name}: {key} is read by no code"


def test_distributed_services_reach_the_broker():
    """In compose.yaml every Kafka command resolves (flags + environment) to the `kafka` service; the embedded
    file gives no service a broker."""
    from synsec.cli.topics import broker_settings_from_options

    doc = compose("compose.yaml")
    internal = doc["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")[0].split("//")[1]
    kafka_commands = 0
    for name, svc in synsec_services(doc).items():
        ctx, env = service_context(svc)
        if "broker_url" not in ctx.params:
            continue
        kafka_commands += 1
        with environment(env):
            settings = broker_settings_from_options(**{k: ctx.params[k] for k in _BROKER_KEYS})
        assert settings.url == f"kafka://{internal}", name
        assert "kafka" in svc["depends_on"] or "topics" in svc["depends_on"], name
    assert kafka_commands == 5          # topics, worker, api, clickhouse-sink, bouncer-nginx
    for name, svc in compose("compose.embedded.yaml")["services"].items():
        assert "SYNSEC_KAFKA_BROKER" not in (svc.get("environment") or {}), name


@pytest.mark.parametrize("file", COMPOSE_FILES)
def test_references_exist(file):
    """depends_on names a service, one-shots are awaited as completed, named volumes are declared and used,
    relative bind mounts exist in docker/, and the build points at docker/Dockerfile in the repository."""
    doc = compose(file)
    services, volumes = doc["services"], set(doc.get("volumes") or {})
    used = set()
    for name, svc in services.items():
        for target, cond in (svc.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            if cond["condition"] == "service_completed_successfully":
                assert services[target].get("restart") in ("no", "on-failure"), f"{target} is not a one-shot"
            if cond["condition"] == "service_healthy":
                assert "test" in services[target]["healthcheck"], f"{target} has no healthcheck to wait for"
        for spec in svc.get("volumes", []):
            source = spec.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source} not in docker/"
            elif not source.startswith("/"):
                assert source in volumes, f"{name}: volume {source} not declared"
                used.add(source)
        if "build" in svc:
            assert (DOCKER / svc["build"]["context"]).resolve() == ROOT
            assert (ROOT / svc["build"]["dockerfile"]) == DOCKERFILE
    assert used == volumes, f"declared but unused volumes: {volumes - used}"


@pytest.mark.parametrize("file", COMPOSE_FILES)
def test_healthchecks_and_restart(file):
    """Every long-running service has a restart policy and a healthcheck (or says it has none); an HTTP
    healthcheck probes the port the command listens on, which is the port published."""
    doc = compose(file)
    synsec = synsec_services(doc)
    for name, svc in doc["services"].items():
        assert svc.get("restart") in ("unless-stopped", "on-failure", "no"), name
        assert "healthcheck" in svc, f"{name}: no healthcheck (say `disable: true` if it has no probe)"
        test = " ".join(svc["healthcheck"].get("test", []))
        if name not in synsec or svc["healthcheck"].get("disable"):
            continue
        ctx, _ = service_context(svc)
        listen = ctx.params.get("listen") or ctx.params.get("metrics_listen")
        port = int(listen.rpartition(":")[2])
        assert f"http://127.0.0.1:{port}/health" in test, name
        for published in svc.get("ports", []):
            assert published.rpartition(":")[2] == str(port), f"{name}: publishes {published}, listens {port}"


def test_worker_scales():
    """The worker can be scaled: no fixed name, no published port, no shared named volume, and the partition
    count the comment promises is the default topology's."""
    from topologies import load_topology

    svc = compose("compose.yaml")["services"]["worker"]
    assert "container_name" not in svc and "ports" not in svc and "volumes" not in svc
    ctx, _ = service_context(svc)
    partitions = load_topology(ctx.params["topology"]).topics["buckets-in"].partitions
    assert f"N <= {partitions}" in (DOCKER / "compose.yaml").read_text()


def test_env_example_covers_the_variables():
    """Every ${VAR} of the compose files is in .env.example, and .env.example holds no variable nobody uses;
    without a .env the required ClickHouse password stops compose."""
    text = "".join((DOCKER / f).read_text() for f in COMPOSE_FILES)
    used = {m.group(1) for m in _VAR.finditer(text)}
    assert used == set(dotenv())
    with pytest.raises(pytest.fail.Exception):
        compose("compose.yaml", env={})


def test_acquis_example_loads():
    """docker/acquis.yaml, mounted for `synsec run`, is an acquisition file synsec accepts."""
    from synsec.runner.acquis import load_acquis

    sources = load_acquis(str(DOCKER / "acquis.yaml"))
    assert {s.labels["type"] for s in sources} == {"syslog", "nginx"}


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile():
    """The image: the pinned slim base, COPY sources that exist, are in the build context and cover every
    package pyproject installs, the rocksdb extra the workers' store needs, a non-root USER, a HEALTHCHECK, the install step CI runs (scripts/install.sh), and an ENTRYPOINT that is a console script pyproject declares."""
    import json

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm")
    copied = set()
    for op, arg in instructions:
        if op == "COPY":
            *sources, _dest = shlex.split(arg)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                copied.add(source.rstrip("/"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages | {"pyproject.toml", project["project"]["readme"]} <= copied
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(op == "HEALTHCHECK" and "/health" in arg for op, arg in instructions)
    entrypoint = json.loads([arg for op, arg in instructions if op == "ENTRYPOINT"][-1])
    assert entrypoint == ["synsec"] and entrypoint[0] in project["project"]["scripts"]
    assert "ccscli" in project["project"]["scripts"]
    ignored = [p for p in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
               if p.strip() and not p.startswith("#")]
    assert not copied & {p.rstrip("/") for p in ignored}, "a COPY source is left out of the build context"
    install = " ".join(arg for op, arg in instructions if op == "RUN" and "scripts/install.sh" in arg)
    assert install, "the image installs synsec with scripts/install.sh, the step CI runs"
    assert "bash scripts/install.sh .venv/bin/python" in (ROOT / "scripts" / "venv.sh").read_text()
    assert "pip install" in (ROOT / "scripts" / "install.sh").read_text()
    if "rocksdb://" in (DOCKER / "compose.yaml").read_text():
        assert "[rocksdb]" in install, "a worker uses rocksdb:// but the image lacks the rocksdb extra"
    env = " ".join(arg for op, arg in instructions if op == "ENV")
    code = "\n".join(p.read_text() for d in CODE_DIRS for p in (ROOT / d).rglob("*.py"))
    for key in re.findall(r"\b(SYNSEC_[A-Z_]+)=", env):
        assert f'"{key}"' in code, f"ENV {key} is read by no code"
