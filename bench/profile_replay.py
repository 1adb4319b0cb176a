"""Profile a synsec replay (default: 100k-line nginx log on unmodified hub content) with cProfile.

    .venv/bin/python bench/profile_replay.py [--lines 100000] [--kind nginx|sshd|nginx-benign] [--own]
                                             [--top 25] [--pstats OUT.prof] [--json OUT]

Prints the top functions by cumulative and by self time, then a breakdown of where the time goes:
grok matching, expr filters, buckets, dateparse, I/O/decoding, parser/pipeline glue, other.
The breakdown sums *self* time per category, decided by the function's source file; time of
C builtins and stdlib functions (re.Pattern.match, datetime, str methods, ...) is charged to the
synsec category of whoever called them (split across callers by their share of calls' time),
so regex time under grok counts as grok and regex time under RegexpInFile counts as expr.
Only the replay loop is profiled (content loading is not). cProfile roughly doubles run time; --timer cpu
(the process CPU clock: other jobs on a loaded machine do not count) makes it ~4x slower still;
the percentages, not the absolute seconds, are what matters.
The log and hub config are the cached ones bench/replay.py makes under bench/out/.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
_code = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv[:-1] else str(REPO)
sys.path.insert(0, _code)          # this checkout's engine (or --code's), wherever the editable install points

import replay as bench_replay  # noqa: E402  (bench/replay.py: log generation + hub config)

CATEGORIES = [  # (category, path fragment), first match wins
    ("grok", "synsec/engine/grok/"),
    ("expr", "synsec/engine/expr/"),
    ("buckets", "synsec/engine/buckets/"),
    ("dateparse", "synsec/engine/enrichers/dateparse"),
    ("io/decoding", "synsec/runner/inputs"),
    ("enrichers (other)", "synsec/engine/enrichers/"),
    ("postoverflow/profiles", "synsec/engine/profiles"),
    ("parser/pipeline glue", "synsec/engine/parser"),
    ("parser/pipeline glue", "synsec/engine/pipeline"),
    ("parser/pipeline glue", "synsec/engine/model"),
    ("replay loop", "synsec/runner/replay"),
]
IO_BUILTINS = ("decode", "readline", "readinto", "read", "codecs", "_io.")


def direct_category(func) -> str | None:
    filename, _line, name = func
    fn = filename.replace(os.sep, "/")
    for cat, frag in CATEGORIES:
        if frag in fn:
            return cat
    if filename.startswith("<expr"):  # compiled filter/statics functions (codegen filename)
        return "expr"
    if filename == "~" and any(k in name for k in IO_BUILTINS) and "Pattern" not in name:
        return "io/decoding"
    if fn.endswith(("/codecs.py", "/gzip.py", "/_compression.py")):
        return "io/decoding"
    return None  # builtin or stdlib: charge it to its callers


def breakdown(st: pstats.Stats) -> dict[str, float]:
    raw = st.stats  # func -> (cc, nc, tt, ct, callers{caller: (cc, nc, tt, ct)})
    out: dict[str, float] = {}

    def charge(func, amount, depth):
        cat = direct_category(func)
        if cat is None:
            callers = raw.get(func, (0, 0, 0, 0, {}))[4]
            weights = {c: (e[3] if len(e) > 3 else e) for c, e in callers.items()}
            total = sum(weights.values())
            if depth < 8 and total > 0:
                for c, w in weights.items():
                    charge(c, amount * w / total, depth + 1)
                return
            cat = "other"
        out[cat] = out.get(cat, 0.0) + amount

    for func, (_cc, _nc, tt, _ct, _callers) in raw.items():
        if tt:
            charge(func, tt, 0)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, help="default 100000; 200000 for nginx-benign")
    ap.add_argument("--kind", choices=tuple(bench_replay.LOG_TYPE), default="nginx",
                    help="nginx-benign: the benign-heavy shape (gen_log --shape benign-heavy)")
    ap.add_argument("--own", action="store_true", help="synsec's own content instead of the hub")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--code", help="directory holding the synsec/ to profile (bench/ab.py's exports); default "
                                   "this checkout")
    ap.add_argument("--timer", choices=("cpu", "wall"), default="wall",
                    help="cProfile's clock: wall time (default) or process CPU time (other jobs on a loaded "
                         "machine do not count, but reading it makes the profiled run ~4x slower)")
    ap.add_argument("--pstats", help="also dump raw pstats here (snakeviz/gprof2dot)")
    ap.add_argument("--json", help="write the breakdown here")
    args = ap.parse_args(argv)

    from synsec.engine.model import Line
    from synsec.assembly.build import EngineOptions, build_engine
    from synsec.runner.inputs import iter_lines

    if args.lines is None:
        args.lines = 200_000 if args.kind == "nginx-benign" else 100_000
    log, _truth = bench_replay.gen_logs(args.kind, args.lines)
    if args.own:
        opts = EngineOptions(reference_year=time.gmtime().tm_year)
        content_name = "own content (scenarios/)"
    else:
        paths = bench_replay.crowdsec_paths()
        if paths is None:
            print("hub content needs scripts/crowdsec-hub.sh; use --own", file=sys.stderr)
            return 2
        cfg, data = bench_replay.hub_config(paths)
        opts = EngineOptions(config_dir=cfg, data_dirs=(data,), reference_year=time.gmtime().tm_year)
        content_name = "hub content (" + ", ".join(bench_replay.HUB_COLLECTIONS) + ")"
    engine, content = build_engine(opts)
    labels = {"type": bench_replay.LOG_TYPE[args.kind]}
    ref = time.time()

    def run():
        for _src, text in iter_lines([str(log)], engine.counts):
            engine.process(Line(text, _src, labels), ref if engine.last_event_time == 0.0 else 0.0)
        engine.finish()

    prof = cProfile.Profile(time.process_time if args.timer == "cpu" else time.perf_counter)
    t0, c0 = time.perf_counter(), time.process_time()
    prof.runcall(run)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"profiled replay of {log.name} ({args.lines} lines, {len(content.scenarios)} scenarios, "
          f"{content_name}): {wall:.1f}s wall, {cpu:.1f}s CPU under cProfile "
          f"({args.lines / cpu:.0f} lines/CPU-s with profiling overhead)")
    if args.pstats:
        prof.dump_stats(args.pstats)
    st = pstats.Stats(prof)
    for key, title in (("cumulative", "cumulative"), ("tottime", "self")):
        print(f"\n==== top {args.top} by {title} time")
        st.sort_stats(key).print_stats(args.top)
    total = sum(v[2] for v in st.stats.values())
    br = breakdown(st)
    print(f"==== breakdown of {total:.2f}s self time (builtins/stdlib charged to synsec callers)")
    for cat, secs in br.items():
        print(f"  {cat:24s} {secs:7.2f}s  {100 * secs / total:5.1f}%")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "log": str(log), "lines": args.lines, "content": content_name,
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "total_self_s": round(total, 2),
            "breakdown_s": {k: round(v, 3) for k, v in br.items()},
            "breakdown_pct": {k: round(100 * v / total, 1) for k, v in br.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
