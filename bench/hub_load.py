"""How many of a CrowdSec hub checkout's scenarios, parsers and postoverflows load in synsec, file by file.

Each YAML file is decoded and compiled on its own, as `ccscli lint` does for content (strict keys, every
expression compiled). Data files come from `--data-dir` when there; a data file found nowhere is loaded
empty, so the figure measures the grammar and helpers, not the downloads. Errors are grouped by kind.

    .venv/bin/python bench/hub_load.py --hub HUB_CHECKOUT --patterns CROWDSEC/config/patterns [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synsec.content.datafiles import read_data_file                              # noqa: E402
from synsec.content.loader import _patterns, find_yaml                             # noqa: E402
from synsec.content.parsers import compile_parser_docs, data_entries, read_parser_docs  # noqa: E402
from synsec.content.scenarios import compile_scenarios, parse_scenario_files      # noqa: E402
from synsec.engine.errors import ErrorCollector                                    # noqa: E402
from synsec.engine.expr import ExprContext                                         # noqa: E402
from synsec.engine.expr.helpers_filemap import FileMap                             # noqa: E402


def _data(entries, data_dirs, ctx) -> None:
    for entry in entries:
        missing = ErrorCollector()
        read_data_file(entry, data_dirs, ctx, missing)
        if missing.errors and entry.type == "map":          # not downloaded: load it empty
            ctx.maps.setdefault(entry.dest_file, FileMap([]))
        elif missing.errors:
            (ctx.regexps if entry.type == "regexp" else ctx.files).setdefault(entry.dest_file, [])


def load_scenario(path: Path, data_dirs) -> list[str]:
    errors = ErrorCollector()
    specs = parse_scenario_files([(str(path), path.read_text(encoding="utf-8"))], errors)
    ctx = ExprContext()
    for spec in specs:
        _data(spec.data, data_dirs, ctx)
    compile_scenarios(specs, ctx, errors)
    return [str(e) for e in errors.errors]


def load_parser(path: Path, stage: str, lib, data_dirs) -> list[str]:
    errors = ErrorCollector()
    docs = read_parser_docs([(stage, str(path), path.read_text(encoding="utf-8"))], errors)
    ctx = ExprContext()
    for d in docs:
        _data(data_entries(d.data, d.path, ErrorCollector()), data_dirs, ctx)
    compile_parser_docs(docs, lib, ctx, errors)
    return [str(e) for e in errors.errors]


def kind(message: str) -> str:
    """An error message without its place and quoted specifics, to group errors."""
    text = message.split(": ", 2)[-1]
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    return re.sub(r"\d+", "N", text)[:90]


def measure(hub: Path, patterns: Path, data_dirs: list[Path]) -> dict:
    lib = _patterns([patterns])
    result: dict = {}
    for section in ("scenarios", "parsers", "postoverflows"):
        files = find_yaml(hub / section)
        failed: dict[str, list[str]] = {}
        for path in files:
            rel = str(path.relative_to(hub))
            if section == "scenarios":
                errs = load_scenario(path, data_dirs)
            else:
                errs = load_parser(path, path.relative_to(hub / section).parts[0], lib, data_dirs)
            if errs:
                failed[rel] = errs
        kinds = Counter(kind(e) for errs in failed.values() for e in errs)
        result[section] = {"files": len(files), "loaded": len(files) - len(failed), "failed": failed,
                           "kinds": kinds.most_common()}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hub", type=Path, required=True, help="a crowdsecurity/hub checkout")
    ap.add_argument("--patterns", type=Path, required=True, help="CrowdSec's config/patterns directory")
    ap.add_argument("--data-dir", type=Path, action="append", default=[])
    ap.add_argument("--json", type=Path, help="write the full result here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every failed file's errors")
    args = ap.parse_args()
    result = measure(args.hub, args.patterns, args.data_dir)
    for section, r in result.items():
        print(f"{section}: {r['loaded']}/{r['files']} load")
        for text, n in r["kinds"][:12]:
            print(f"  {n:4d}  {text}")
        if args.verbose:
            for rel, errs in r["failed"].items():
                print(f"  {rel}:\n    " + "\n    ".join(e[:200] for e in errs[:3]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
