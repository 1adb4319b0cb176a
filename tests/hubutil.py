"""Helpers for tests that use Debian's CrowdSec 1.4.6 hub (unpacked by scripts/crowdsec-hub.sh)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def hub_root() -> Path:
    """The unpacked package root: $SYNSEC_HUB_ROOT, else .cache/crowdsec/root."""
    return Path(os.environ.get("SYNSEC_HUB_ROOT") or REPO / ".cache" / "crowdsec" / "root")


def require_hub() -> dict[str, Path]:
    root = hub_root()
    paths = {"CROWDSEC_BIN": root / "usr/bin/crowdsec", "CROWDSEC_HUB": root / "usr/share/crowdsec/hub",
             "CROWDSEC_PATTERNS": root / "etc/crowdsec/patterns", "CROWDSEC_DATA": root / "usr/share/crowdsec/data",
             "CUSTOM_BOUNCER_BIN": root / "usr/bin/crowdsec-custom-bouncer"}
    if not paths["CROWDSEC_HUB"].is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CrowdSec hub missing at {root}: scripts/crowdsec-hub.sh should have installed it")
        pytest.skip(f"CrowdSec hub not unpacked at {root} (run scripts/crowdsec-hub.sh)")
    return paths


def bench_module(name: str):
    """bench/<name>.py as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def crowdsec_ref():
    """bench/crowdsec_ref.py as a module (it installs hub collections the way cscli does)."""
    return bench_module("crowdsec_ref")
