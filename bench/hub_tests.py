"""A cheap run of a CrowdSec hub checkout's scenario tests (`.tests/*/scenario.assert`) with `synsec replay`.

Each test directory's `config.yaml` (parsers, scenarios, postoverflows, override_statics, log_file, log_type,
labels) is installed into a temporary config dir as `cscli hubtest` would, and the log is replayed. This is not
hubtest: only the outcome is compared -- the number of alerts (`len(results) == N`) and the scenario of each
(`results[i].Overflow.Alert.GetScenario() == "..."`), as multisets; the other assertions are not evaluated.
Data files come from `--data-dir` when there, else are installed empty (such tests are counted apart), since
their downloads are not available offline.

    .venv/bin/python bench/hub_tests.py --hub HUB --patterns CROWDSEC/config/patterns --data-dir DIR [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synsec.assembly.build import EngineOptions                  # noqa: E402
from synsec.engine.errors import LoadError, LoadErrors           # noqa: E402
from synsec.runner.replay import replay                          # noqa: E402

_COUNT = re.compile(r"^len\(results\)\s*==\s*(\d+)\s*$", re.M)
_SCENARIO = re.compile(r'^results\[(\d+)\]\.Overflow\.Alert\.GetScenario\(\)\s*==\s*"([^"]*)"\s*$', re.M)
KINDS = {"parsers": "parsers", "scenarios": "scenarios", "postoverflows": "postoverflows"}


def expected(assert_text: str) -> tuple[int | None, list[str]]:
    count = _COUNT.search(assert_text)
    names = dict((int(i), n) for i, n in _SCENARIO.findall(assert_text))
    return (int(count.group(1)) if count else None), [names[i] for i in sorted(names)]


def _item_path(hub: Path, index: dict, kind: str, name: str) -> Path | None:
    if name.endswith((".yaml", ".yml")):     # a path in the hub: ./scenarios/x.yaml, scenarios/x.yaml, /x.yaml
        return hub / name.removeprefix("./").lstrip("/")
    entry = index.get(kind, {}).get(name)
    return hub / entry["path"] if entry else None


def _data_files(path: Path) -> list[tuple[str, str]]:
    out = []
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError:
        return out
    for doc in docs:
        for d in (doc or {}).get("data", []) if isinstance(doc, dict) else []:
            if isinstance(d, dict) and d.get("dest_file"):
                out.append((str(d["dest_file"]), str(d.get("type", "string"))))
    return out


def install(test: Path, hub: Path, index: dict, cfg_dir: Path, data_dirs: list[Path]) -> tuple[dict, bool]:
    """Install one test's items into cfg_dir; (its config, whether a data file was installed empty)."""
    cfg = yaml.safe_load((test / "config.yaml").read_text(encoding="utf-8")) or {}
    empty_data = False
    data_out = cfg_dir / "data"
    data_out.mkdir(parents=True)
    for kind in KINDS:
        for name in cfg.get(kind) or []:
            if not name:
                continue
            src = _item_path(hub, index, kind, str(name))
            if src is None or not src.is_file():
                raise FileNotFoundError(f"{kind} item {name!r} not in the hub")
            rel = src.relative_to(hub)
            if kind == "scenarios":
                rel = Path("scenarios") / rel.name
            dst = cfg_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            for dest_file, _type in _data_files(src):
                if not any((d / dest_file).is_file() for d in data_dirs):
                    empty_data = True
                    if dest_file.endswith(".mmdb"):     # no GeoIP database: enrichment finds nothing
                        continue
                    placeholder = data_out / dest_file
                    placeholder.parent.mkdir(parents=True, exist_ok=True)
                    placeholder.touch()
    if cfg.get("override_statics"):
        node = {"name": "overrides", "filter": "1==1", "statics": cfg["override_statics"]}
        (cfg_dir / "parsers" / "s00-raw").mkdir(parents=True, exist_ok=True)
        (cfg_dir / "parsers" / "s00-raw" / "00_overrides.yaml").write_text(yaml.safe_dump(node))
    return cfg, empty_data


def run_test(test: Path, hub: Path, index: dict, patterns: Path, data_dirs: list[Path]) -> dict:
    want_count, want_names = expected((test / "scenario.assert").read_text(encoding="utf-8"))
    empty_data = True
    with tempfile.TemporaryDirectory(prefix="hubtest-") as tmp:
        cfg_dir = Path(tmp) / "cfg"
        try:
            cfg, empty_data = install(test, hub, index, cfg_dir, data_dirs)
            labels = {"type": str(cfg.get("log_type", ""))}
            labels.update({str(k): str(v) for k, v in (cfg.get("labels") or {}).items()})
            opts = EngineOptions.from_flags(config_dir=cfg_dir, data_dirs=list(data_dirs),
                                            pattern_dirs=[patterns], reference_year=2026)
            result = replay([str(test / cfg["log_file"])], labels, opts, reference_ts=0.0)
        except (LoadError, LoadErrors) as err:
            return {"status": "load_error", "empty_data": empty_data, "detail": " | ".join(str(err).splitlines())[:400]}
        except (OSError, KeyError) as err:
            return {"status": "setup_error", "empty_data": empty_data, "detail": str(err)[:300]}
    got = [a.Scenario for a in result.alerts]
    ok_count = want_count is None or want_count == len(got)
    ok_names = not want_names or Counter(want_names) == Counter(got[:len(want_names)]) or \
        Counter(want_names) <= Counter(got)
    status = "pass" if ok_count and ok_names else "fail"
    return {"status": status, "empty_data": empty_data, "want": [want_count, want_names], "got": got}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hub", type=Path, required=True)
    ap.add_argument("--patterns", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, action="append", default=[])
    ap.add_argument("--only", help="run the tests whose name contains this")
    ap.add_argument("--json", type=Path)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    index = json.loads((args.hub / ".index.json").read_text(encoding="utf-8"))
    results = {}
    for test in sorted((args.hub / ".tests").iterdir()):
        sa = test / "scenario.assert"
        if not sa.is_file() or not sa.read_text(encoding="utf-8").strip():
            continue
        if args.only and args.only not in test.name:
            continue
        results[test.name] = r = run_test(test, args.hub, index, args.patterns, args.data_dir)
        if args.verbose and r["status"] != "pass":
            print(test.name, json.dumps(r)[:400], flush=True)
    statuses = Counter(r["status"] for r in results.values())
    full = [r for r in results.values() if not r.get("empty_data")]
    print(f"scenario tests: {len(results)}; " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    print(f"pass rate: {statuses['pass'] / max(len(results), 1):.1%}; among the {len(full)} tests with every data "
          f"file available: {sum(r['status'] == 'pass' for r in full) / max(len(full), 1):.1%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
