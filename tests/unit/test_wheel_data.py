"""The wheel holds every data file the code reads at run time, where the loaders look for it.

Builds the wheel once (`pip wheel --no-deps --no-build-isolation --no-index`: offline, with the venv's setuptools)
from a copy of the packaged folders, and compares its file list with the repository. The loaders find their data
relative to their own module (`schemas/` and `scenarios/` beside `synsec/`), so the wheel must install the data
in the repository's layout: `pip install .` into a fresh venv then runs `synsec replay`, `synsec clickhouse
queries`, `synsec topics`, the worker's Avro codecs and the bouncers' configs from any directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_DATA = {"README.md"}          # documentation beside the data, not read by any code


DATA_ROOTS = {"schemas", "scenarios", "topologies", "connectors"}     # folders holding data read at run time


def package_roots() -> list[str]:
    """Top-level folders of the wheel (`[tool.setuptools.packages.find] include` in pyproject.toml), and the
    folders holding data whether or not pyproject lists them."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = {p.split(".")[0].rstrip("*") for p in conf["tool"]["setuptools"]["packages"]["find"]["include"]}
    return sorted(listed | DATA_ROOTS)


def repo_files(python: bool) -> set[str]:
    """Repository paths under the packaged folders: the .py modules, or every other (data) file."""
    out = set()
    for top in package_roots():
        for dirpath, dirnames, filenames in os.walk(ROOT / top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in filenames:
                if name.endswith(".pyc") or name in NOT_DATA or name.endswith(".py") != python:
                    continue
                out.add((Path(dirpath) / name).relative_to(ROOT).as_posix())
    return out


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory) -> set[str]:
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for top in package_roots():                    # a copy: no stale build/ from the working tree
        shutil.copytree(ROOT / top, src / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"pip wheel failed (setuptools>=70.1 is in the test extras):\n{proc.stderr[-3000:]}"
    (wheel,) = out.glob("synsec-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return {n for n in zf.namelist() if ".dist-info/" not in n}


def test_wheel_holds_every_data_file(wheel_files):
    """Every non-Python file under the packaged folders (DDL, queries, Avro schemas, ids.json, topologies, content,
    patterns, samples, shipper configs, nginx snippet) is in the wheel at its repository path."""
    data = repo_files(python=False)
    for known in ("schemas/clickhouse/001_alerts.sql", "schemas/clickhouse/queries/top_scenarios.sql",
                  "schemas/decision.avsc", "schemas/ids.json", "schemas/evolution/1.avsc", "topologies/default.yaml",
                  "scenarios/profiles.yaml", "scenarios/parsers/s01-parse/sshd-logs.yaml", "scenarios/patterns/ssh",
                  "scenarios/data/synsec_backdoors.txt", "scenarios/samples/auth-demo.log",
                  "connectors/bouncers/nginx-snippet.conf", "connectors/shippers/filebeat/filebeat.yml",
                  "connectors/shippers/rsyslog/synsec.conf", "connectors/shippers/vector/vector.toml"):
        assert known in data, f"{known} is no longer in the repository: update this test"
    missing = sorted(data - wheel_files)
    assert not missing, f"not in the wheel (add to [tool.setuptools.package-data] in pyproject.toml): {missing}"


def test_wheel_holds_every_module(wheel_files):
    """Every Python module under the packaged folders is in the wheel (namespace folders included)."""
    missing = sorted(repo_files(python=True) - wheel_files)
    assert not missing, f"not in the wheel (pyproject.toml [tool.setuptools.packages.find]): {missing}"


def test_loaders_look_where_the_wheel_puts_the_data(wheel_files):
    """Each loader's default directory or file, taken relative to the repository, holds files in the wheel."""
    from connectors.bouncers.nginx import SNIPPET
    from connectors.clickhouse.migrate import SCHEMA_DIR as DDL_DIR
    from connectors.clickhouse.queries import QUERY_DIR
    from synsec.wire.registry import SCHEMA_DIR as AVRO_DIR
    from synsec.content.loader import default_content_dir
    from synsec.content.patterns import DEFAULT_PATTERNS_DIR
    from topologies import TOPOLOGY_DIR

    for path in (DDL_DIR, QUERY_DIR, AVRO_DIR, default_content_dir(), DEFAULT_PATTERNS_DIR, TOPOLOGY_DIR, SNIPPET):
        rel = Path(path).resolve().relative_to(ROOT).as_posix()
        found = rel in wheel_files or any(n.startswith(rel + "/") for n in wheel_files)
        assert found, f"{rel}: a loader reads it but the wheel has nothing there"


def test_missing_ddl_or_queries_is_a_clear_error(tmp_path):
    """A folder without migrations or queries (an install without its package data) raises, naming the folder,
    instead of applying or listing nothing."""
    import re

    from connectors.clickhouse.migrate import MigrationError, load_migrations
    from connectors.clickhouse.queries import QueryError, load_queries

    with pytest.raises(MigrationError, match=re.escape(f"{tmp_path}: no NNN_name.sql migrations")):
        load_migrations(tmp_path)
    with pytest.raises(QueryError, match=re.escape(f"{tmp_path}: no *.sql analyst queries")):
        load_queries(tmp_path)
