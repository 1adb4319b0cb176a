"""Before/after: interleaved replays of two versions of the engine on the same logs (hub content).

    .venv/bin/python bench/ab.py --base REV [--new REV] [--kinds nginx,nginx-benign] [--rounds 3]

Each version's `synsec/` and `scenarios/` are exported with `git archive` into bench/out/ab/REV/ (the working
tree when --new is omitted), and every replay runs in a fresh subprocess (bench/replay.py's worker)
importing that copy. Runs alternate base, new, base, new… so that load from other jobs on a shared
machine hits both alike; compare CPU µs/line (the replay loop's process time), not wall time.
Prints per kind and version the median CPU µs/line, lines/CPU-s, lines/s (wall), peak RSS, and
whether the alerts (scenario, source, events count, start/stop), the number of decisions and the bucket
counts per scenario (pours, overflows, underflows…: the counters both versions have) are identical in every run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import replay as bench_replay  # noqa: E402  (bench/replay.py: logs, hub config, worker)


def export(rev: str) -> Path:
    """`synsec/` and `scenarios/` of a git revision, exported once into bench/out/ab/REV."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, check=True, capture_output=True,
                         text=True).stdout.strip()
    dest = bench_replay.OUT / "ab" / sha
    if not (dest / "synsec").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha, "synsec", "scenarios"], cwd=REPO, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _shared_counters(per_runs) -> set:
    """The bucket counter names every run reports (a version may count what an older one did not)."""
    out = None
    for buckets in per_runs:
        names = {name for counts in (buckets or {}).values() for name in counts}
        out = names if out is None else out & names
    return out or set()


def _only(buckets: dict | None, names: set) -> dict:
    return {sc: {k: v for k, v in counts.items() if k in names} for sc, counts in (buckets or {}).items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="git revision of the 'before' engine")
    ap.add_argument("--new", help="git revision of the 'after' engine (default: this working tree)")
    ap.add_argument("--kinds", default="nginx,nginx-benign", help="log kinds of bench/replay.py")
    ap.add_argument("--lines", type=int, default=100_000, help="lines of the nginx/sshd logs")
    ap.add_argument("--benign-lines", type=int, default=200_000, help="lines of the nginx-benign log")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write every run's figures here")
    args = ap.parse_args(argv)

    versions = {"base": str(export(args.base)), "new": str(export(args.new)) if args.new else str(REPO)}
    paths = bench_replay.crowdsec_paths()
    if paths is None:
        print("hub content needs scripts/crowdsec-hub.sh", file=sys.stderr)
        return 2
    cfg, data = bench_replay.hub_config(paths)
    runs: dict = {}
    for kind in args.kinds.split(","):
        n = args.benign_lines if kind == "nginx-benign" else args.lines
        log, _truth = bench_replay.gen_logs(kind, n)
        for rnd in range(args.rounds):
            for name, code in versions.items():
                r = bench_replay.run_worker({"mode": "replay", "log": str(log), "type": bench_replay.LOG_TYPE[kind],
                                             "config_dir": str(cfg), "data_dirs": [str(data)], "code_dir": code})
                st = r["stats"]
                alerts = sorted(json.dumps(a, sort_keys=True) for a in r["alerts"])
                runs.setdefault(kind, {}).setdefault(name, []).append(
                    {"cpu_us_per_line": st["cpu_us_per_line"], "lines_per_cpu_s": st["lines_per_cpu_s"],
                     "lines_per_s": st["lines_per_s"], "peak_rss_mb": r["peak_rss_mb"], "alerts": alerts,
                     "decisions": r["decisions"], "buckets": st.get("buckets")})
                print(f"  {kind} round {rnd + 1} {name}: {st['cpu_us_per_line']} CPU µs/line, "
                      f"{st['lines_per_s']:.0f} lines/s wall, {r['peak_rss_mb']} MB, {len(alerts)} alerts",
                      flush=True)
    print("\n== medians")
    for kind, by in runs.items():
        first = by["base"][0]
        names = _shared_counters(run["buckets"] for rs in by.values() for run in rs)
        same = all((run["alerts"], run["decisions"], _only(run["buckets"], names))
                   == (first["alerts"], first["decisions"], _only(first["buckets"], names))
                   for rs in by.values() for run in rs)
        med = {name: {k: statistics.median(run[k] for run in rs) for k in
                      ("cpu_us_per_line", "lines_per_cpu_s", "lines_per_s", "peak_rss_mb")}
               for name, rs in by.items()}
        for name, m in med.items():
            print(f"  {kind:13s} {name:4s}: {m['cpu_us_per_line']:6.1f} CPU µs/line  "
                  f"{m['lines_per_cpu_s']:7.0f} lines/CPU-s  {m['lines_per_s']:7.0f} lines/s  "
                  f"{m['peak_rss_mb']:5.1f} MB peak RSS")
        speedup = med["base"]["cpu_us_per_line"] / med["new"]["cpu_us_per_line"]
        print(f"  {kind:13s} new/base: {speedup:.2f}x less CPU per line; alerts "
              f"{'IDENTICAL' if same else 'DIFFER'} ({len(first['alerts'])} alerts, {first['decisions']} decisions, "
              f"pours/overflows/underflows per scenario {'identical' if same else 'compared'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"versions": versions, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
