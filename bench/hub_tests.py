"""A CrowdSec hub checkout's whole test suite (`.tests/*`) run with `ccscli hubtest` (synsec.runner.hubtest):
every assertion of `parser.assert` and `scenario.assert` evaluated, pass rates given for parser tests and
scenario tests apart, and the tests whose data files were missing (installed empty) counted apart.

    .venv/bin/python bench/hub_tests.py --hub HUB [--data-dir DIR] [--patterns DIR] [--only TEXT] [--json OUT] [-v]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synsec.runner.hubtest import HubTestRunner, find_tests     # noqa: E402


def _rate(done: int, total: int) -> str:
    return f"{done}/{total} ({100 * done / max(total, 1):.1f}%)"


def _kind(error: str) -> str:
    """A short name for why a test could not run."""
    for key in ("expression", "unknown func", "not in the hub", "no item", "invalid YAML", "grok", "data"):
        if key in error:
            return key
    return error.split(":")[0][:60]


def summarize(runs: list) -> dict:
    out: dict = {"tests": len(runs), "passed": sum(r.success for r in runs),
                 "errors": Counter(_kind(r.error) for r in runs if r.error)}
    for kind in ("parser", "scenario"):
        tests = [r for r in runs if kind in r.kinds]          # a test that could not run fails its kinds
        reports = [getattr(r, kind) for r in tests if getattr(r, kind) is not None]
        full = [r for r in tests if not r.missing_data]
        ok = lambda r: not r.error and getattr(r, kind).success   # noqa: E731
        out[kind] = {
            "tests": len(tests), "passed": sum(ok(r) for r in tests), "not_run": len(tests) - len(reports),
            "assertions": sum(rep.count for rep in reports),
            "assertions_passed": sum(rep.count - len(rep.fails) for rep in reports),
            "with_all_data": len(full), "with_all_data_passed": sum(ok(r) for r in full)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hub", type=Path, required=True)
    ap.add_argument("--patterns", type=Path, action="append", default=[])
    ap.add_argument("--data-dir", type=Path, action="append", default=[])
    ap.add_argument("--only", help="run the tests whose name contains this")
    ap.add_argument("--json", type=Path)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    runner = HubTestRunner(args.hub, data_dirs=args.data_dir, pattern_dirs=args.patterns,
                           reference_year=time.gmtime().tm_year, reference_ts=time.time())
    runs = []
    for test in find_tests(args.hub):
        if args.only and args.only not in test.name:
            continue
        runs.append(runner.run(test))
        if args.verbose and not runs[-1].success:
            first = [str(f) for rep in (runs[-1].parser, runs[-1].scenario) if rep for f in rep.fails[:2]]
            print(test.name, runs[-1].error[:300] or " | ".join(first)[:300], flush=True)
    s = summarize(runs)
    print(f"tests: {_rate(s['passed'], s['tests'])} pass; could not run: {sum(s['errors'].values())} "
          f"{dict(s['errors'])}")
    for kind in ("parser", "scenario"):
        k = s[kind]
        print(f"{kind} tests: {_rate(k['passed'], k['tests'])} pass ({k['not_run']} could not run); "
              f"assertions {_rate(k['assertions_passed'], k['assertions'])}; tests with every data file: "
              f"{_rate(k['with_all_data_passed'], k['with_all_data'])}")
    if args.json:
        args.json.write_text(json.dumps({"summary": s, "tests": [r.to_dict() for r in runs]}, indent=1,
                                        default=str))


if __name__ == "__main__":
    main()
