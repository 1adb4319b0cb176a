"""Replay benchmark: synsec throughput/CPU/RSS on generated nginx + sshd logs, vs CrowdSec 1.4.6.

    .venv/bin/python bench/replay.py [--big] [--lines N] [--benign-lines N] [--crowdsec-lines N] [--no-crowdsec]
                                     [--no-memory] [--json OUT]

(what `make bench` runs; see bench/README.md for what every figure means)

Steps
  a. synsec, own content (scenarios/): nginx + sshd logs of --lines lines (100k; +1M with --big), and the
     benign-heavy nginx log of --benign-lines lines (200k: gen_log --shape benign-heavy, issue 15)
  b. synsec, unmodified hub content (collections crowdsecurity/linux, sshd, nginx,
     base-http-scenarios, wordpress installed by bench/crowdsec_ref.build_config)
  c. CrowdSec 1.4.6 (if scripts/crowdsec-hub.sh provides it) on a prefix of the nginx log
     (--crowdsec-lines, 20k) and of the sshd log (--crowdsec-sshd-lines, 20k), same collections,
     and synsec/hub on the very same prefix: throughput ratio + alert-set agreement
  d. memory: peak RSS of the 1M sshd replay (--big) and RSS growth per live bucket
     (1k/10k/100k distinct attacker IPs, each leaving live buckets)
  e. summary table; --json OUT writes all figures

Every replay runs in its own subprocess (this file with --worker), so peak RSS is per run;
CPU seconds and peak RSS come from os.wait4's rusage, lines/s from the replay loop alone
(content loading excluded, reported separately as load_s).
Logs, hub config and CrowdSec work dirs are cached under bench/out/ (gitignored).
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "bench"))

HUB_COLLECTIONS = ["crowdsecurity/linux", "crowdsecurity/sshd", "crowdsecurity/nginx",
                   "crowdsecurity/base-http-scenarios", "crowdsecurity/wordpress"]
LOG_TYPE = {"nginx": "nginx", "sshd": "syslog", "nginx-benign": "nginx"}
# log kinds of this bench -> gen_log.py arguments; nginx-benign is the benign-heavy shape (issue 15)
GEN_ARGS = {"nginx": ["--kind", "nginx"], "sshd": ["--kind", "sshd"],
            "nginx-benign": ["--kind", "nginx", "--shape", "benign-heavy"]}
SEED = 1

# gen_log's ground truth names hub scenarios; synsec's own content has its own names.
OWN_NAME = {
    "crowdsecurity/http-probing": "synsec/http-probing",
    "crowdsecurity/http-sensitive-files": "synsec/http-sensitive-files",
    # synsec's own content names the tool family: any family scenario counts for the hub's one
    "crowdsecurity/http-bad-user-agent": tuple(f"synsec/http-bad-user-agent-{f}" for f in (
        "vuln-scanner", "injection-tool", "network-scanner", "content-discovery", "brute-forcer")),
    "crowdsecurity/http-path-traversal-probing": "synsec/http-path-traversal-probing",
    "crowdsecurity/http-sqli-probbing-detection": "synsec/http-sqli-probing",
    "crowdsecurity/http-xss-probbing": "synsec/http-xss-probing",
    "crowdsecurity/http-bf-wordpress_bf": "synsec/http-wordpress-bf",
    "crowdsecurity/http-wordpress_user-enum": "synsec/http-wordpress-user-enum",
    "crowdsecurity/http-crawl-non_statics": "synsec/http-crawl-non-statics",
    # LePresidente/http-generic-401-bf counts access-log 401s; gen_log's are POSTs to /api/v1/login, which
    # synsec/http-login-bf catches (its http-basic-auth-bf reads the nginx *error* log instead).
    "LePresidente/http-generic-401-bf": "synsec/http-login-bf",
    "crowdsecurity/ssh-bf": "synsec/ssh-bf",
    "crowdsecurity/ssh-slow-bf": "synsec/ssh-slow-bf",
    "crowdsecurity/ssh-bf_user-enum": "synsec/ssh-user-enum",
    "crowdsecurity/ssh-slow-bf_user-enum": "synsec/ssh-user-enum",
}


# =========================================================================== worker (subprocess)
def _rss_now_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _worker(spec: dict) -> dict:
    """Runs inside the child process: build engine, replay, return figures (JSON-able). The engine is this
    checkout's (or `code_dir`'s, to compare two versions), whatever the venv's editable install points at."""
    sys.path.insert(0, spec.get("code_dir") or str(REPO))
    from synsec.engine.model import Line
    from synsec.assembly.build import EngineOptions, build_engine
    from synsec.runner.replay import replay

    cfg = spec.get("config_dir")
    opts = EngineOptions(config_dir=Path(cfg) if cfg else None,
                         data_dirs=tuple(Path(d) for d in spec.get("data_dirs", [])),
                         reference_year=time.gmtime().tm_year)
    t0, c0 = time.perf_counter(), time.process_time()
    engine, content = build_engine(opts)
    load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    labels = {"type": spec["type"]}
    res: dict = {"load_s": round(load_s, 3), "load_cpu_s": round(load_cpu, 3),
                 "scenarios_loaded": len(content.scenarios),
                 "parser_files_loaded": len((getattr(content, "files", None) or {}).get("parsers", []))}
    if spec["mode"] == "replay":
        r = replay([spec["log"]], labels, opts, engine_and_content=(engine, content))
        st = dict(r.stats)
        lb = st.pop("live_buckets", None)
        st["live_buckets_end"] = len(lb) if isinstance(lb, list) else lb
        res["stats"] = st
        res["alerts"] = [{"scenario": a.Scenario, "source_ip": a.Source.IP or a.Source.Value,
                          "events_count": a.EventsCount, "start_at": a.StartAt, "stop_at": a.StopAt}
                         for a in r.alerts]
        res["decisions"] = len(r.decisions)
        return res
    # mode "buckets": RSS growth per live bucket (read RSS before finish() flushes buckets)
    gc.collect()
    rss0 = _rss_now_kb()
    ref = time.time()
    with open(spec["log"], encoding="utf-8") as f:
        for text in f:
            engine.process(Line(text.rstrip("\n"), spec["log"], labels),
                                ref if engine.last_event_time == 0.0 else 0.0)
    engine.advance(engine.last_event_time)     # pours the last second's events (they wait for their ties)
    gc.collect()
    rss1 = _rss_now_kb()
    live = len(engine.buckets.live_buckets())
    res.update({"rss_before_kb": rss0, "rss_after_kb": rss1, "live_buckets": live,
                "bucket_records": len(getattr(engine.buckets, "buckets", {}) or {}),
                "lines": engine.counts.total("lines")})
    return res


def run_worker(spec: dict, timeout: float = 3600) -> dict:
    """Run _worker(spec) in a fresh interpreter; add wait4 rusage (cpu_s, peak_rss_mb)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", dir=OUT, delete=False) as tf:
        out_path = tf.name
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec),
                                 "--worker-out", out_path], cwd=REPO)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()  # our own child, by PID
                pid, status, ru = os.wait4(proc.pid, 0)
                raise TimeoutError(f"worker {spec} exceeded {timeout}s")
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"worker {spec} exited {proc.returncode}")
        res = json.loads(Path(out_path).read_text())
    finally:
        Path(out_path).unlink(missing_ok=True)
    res["process_wall_s"] = round(time.monotonic() - t0, 3)
    res["process_cpu_s"] = round(ru.ru_utime + ru.ru_stime, 3)
    res["peak_rss_mb"] = round(ru.ru_maxrss / 1024.0, 1)
    st = res.get("stats")
    if st:
        cpu = st["cpu_s"]
        st["lines_per_cpu_s"] = round(st["lines"] / cpu, 1) if cpu else None
        st["cpu_us_per_line"] = round(1e6 * cpu / st["lines"], 1) if st["lines"] else None
    return res


# =========================================================================== helpers
def gen_logs(kind: str, lines: int) -> tuple[Path, Path]:
    """The cached log and ground truth of a kind (GEN_ARGS) and size, generated when missing."""
    OUT.mkdir(parents=True, exist_ok=True)
    tag = f"{lines // 1000}k" if lines % 1_000_000 else f"{lines // 1_000_000}M"
    log, truth = OUT / f"{kind}_{tag}_s{SEED}.log", OUT / f"{kind}_{tag}_s{SEED}.truth.json"
    if not (log.exists() and truth.exists()):
        subprocess.run([sys.executable, str(REPO / "bench" / "gen_log.py"), "--lines", str(lines),
                        *GEN_ARGS[kind], "--seed", str(SEED), "-o", str(log), "--truth", str(truth)],
                       check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return log, truth


def prefix(log: Path, n: int) -> Path:
    p = log.with_name(f"{log.stem}.head{n}.log")
    if not p.exists():
        with open(log, "rb") as src, open(p, "wb") as dst:
            for i, line in enumerate(src):
                if i >= n:
                    break
                dst.write(line)
    return p


def crowdsec_paths():
    import crowdsec_ref
    try:
        return crowdsec_ref.locate_crowdsec()
    except Exception as e:  # noqa: BLE001 - binary absent / hub script failed
        print(f"[crowdsec not available: {e}]", file=sys.stderr)
        return None


def hub_config(paths) -> tuple[Path, Path]:
    """Install the hub collections once (bench/out/hub/{cfg,data}); synsec reads it unmodified."""
    import crowdsec_ref
    wd = OUT / "hub"
    stamp = wd / "collections.json"
    if not (stamp.exists() and json.loads(stamp.read_text()) == HUB_COLLECTIONS):
        crowdsec_ref.build_config(wd, paths, HUB_COLLECTIONS, "http://127.0.0.1:1/")
        stamp.write_text(json.dumps(HUB_COLLECTIONS))
    return wd / "cfg", wd / "data"


def per_scenario(alerts) -> dict:
    return dict(sorted(collections.Counter(a["scenario"] for a in alerts).items()))


def score(alerts, truth: dict, loaded: set | None, rename: dict | None) -> dict:
    """Recall/precision over (ip, scenario) pairs vs gen_log's ground truth."""
    want = set()
    unscored = set()
    for a in truth["attackers"]:
        for sc in a["expected_alerts"]:
            name = rename.get(sc) if rename is not None else sc
            names = name if isinstance(name, tuple) else (name,)
            if name is None or (loaded is not None and not set(names) & loaded):
                unscored.add(sc)
                continue
            want.add((a["ip"], name))
    got = {(a["source_ip"], a["scenario"]) for a in alerts}
    # a truth pair renamed to several scenarios (a tuple) is met by an alert of any of them
    for ip, name in [w for w in want if isinstance(w[1], tuple)]:
        want.discard((ip, name))
        want.add(next(((ip, n) for n in name if (ip, n) in got), (ip, name[0])))
    attackers = {a["ip"] for a in truth["attackers"]}
    hit = want & got
    return {"expected_pairs": len(want), "got_pairs": len(got), "hit": len(hit),
            "recall": round(len(hit) / len(want), 4) if want else None,
            "precision": round(len(hit) / len(got), 4) if got else None,
            "missing": sorted(f"{ip} {sc}" for ip, sc in want - got)[:20],
            "unexpected": sorted(f"{ip} {sc}" for ip, sc in got - want)[:20],
            "benign_ips_alerted": sorted({ip for ip, _ in got if ip not in attackers}),
            "unscored_truth_scenarios": sorted(unscored)}


def compare_alerts(a_syn, a_cs) -> dict:
    key = lambda a: (a["scenario"], a["source_ip"], a["events_count"])  # noqa: E731
    s, c = collections.Counter(map(key, a_syn)), collections.Counter(map(key, a_cs))
    only_s, only_c = s - c, c - s
    return {"synsec": sum(s.values()), "crowdsec": sum(c.values()), "agree": not only_s and not only_c,
            "only_synsec": sorted(f"{k[0]} {k[1]} n={k[2]}" for k in only_s.elements()),
            "only_crowdsec": sorted(f"{k[0]} {k[1]} n={k[2]}" for k in only_c.elements())}


def bucket_log(n_ips: int) -> Path:
    """One failed sshd login per distinct IP, all within the same second -> all buckets live at EOF."""
    p = OUT / f"buckets_{n_ips}.log"
    if not p.exists():
        with open(p, "w") as f:
            for i in range(n_ips):  # 198.18.0.0/15 (benchmarking range): 131072 addresses
                ip = f"198.{18 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"
                f.write(f"Mar  1 08:00:00 web1 sshd[{1000 + i % 30000}]: Failed password for "
                        f"invalid user u{i % 97} from {ip} port {20000 + i % 40000} ssh2\n")
    return p


def code_state() -> dict:
    """Which engine code was measured: HEAD and the engine files modified in the working tree."""
    def git(*a):
        r = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else ""
    dirty = git("status", "--porcelain", "--", "synsec")
    return {"head": git("rev-parse", "--short", "HEAD").strip() or None,
            "dirty_engine_files": [ln[3:] for ln in dirty.splitlines() if len(ln) > 3]}


def say(msg: str) -> None:
    print(msg, flush=True)


def show_replay(label: str, r: dict, sc: dict | None = None) -> None:
    st = r["stats"]
    say(f"  {label}: {st['lines']} lines ({st['parsed']} parsed) in {st['wall_s']}s wall / "
        f"{st['cpu_s']}s CPU -> {st['lines_per_s']:.0f} lines/s wall, "
        f"{st['lines_per_cpu_s']:.0f} lines/CPU-s ({st['cpu_us_per_line']} CPU µs/line); load {r['load_s']}s; "
        f"process CPU {r['process_cpu_s']}s, peak RSS {r['peak_rss_mb']} MB; "
        f"{r['scenarios_loaded']} scenarios; {len(r['alerts'])} alerts")
    for k, v in per_scenario(r["alerts"]).items():
        say(f"      {v:5d}  {k}")
    if sc:
        say(f"    vs truth: recall {sc['recall']} precision {sc['precision']} "
            f"({sc['hit']}/{sc['expected_pairs']} expected (ip,scenario) pairs, {sc['got_pairs']} "
            f"alerted); benign IPs alerted: {len(sc['benign_ips_alerted'])}"
            + (f"; unscored: {', '.join(sc['unscored_truth_scenarios'])}"
               if sc["unscored_truth_scenarios"] else ""))


# =========================================================================== main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--benign-lines", type=int, default=200_000,
                    help="lines of the benign-heavy nginx log (gen_log --shape benign-heavy; 0: skip)")
    ap.add_argument("--big", action="store_true", help="also 1M-line logs (and the 1M sshd RSS)")
    ap.add_argument("--crowdsec-lines", type=int, default=20_000, help="nginx prefix for CrowdSec")
    ap.add_argument("--crowdsec-sshd-lines", type=int, default=20_000,
                    help="sshd prefix for CrowdSec (0: skip)")
    ap.add_argument("--crowdsec-benign-lines", type=int, default=20_000,
                    help="benign-heavy nginx prefix for CrowdSec (0: skip)")
    ap.add_argument("--no-crowdsec", action="store_true")
    ap.add_argument("--no-hub", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--bucket-ips", default="1000,10000,100000")
    ap.add_argument("--json", help="write all figures here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        Path(args.worker_out).write_text(json.dumps(_worker(json.loads(args.worker))))
        return 0

    t_start = time.monotonic()
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                "loadavg_start": os.getloadavg()}, "code": code_state(),
                    "own": {}, "hub": {}, "crowdsec": {}, "memory": {}}
    sizes = [args.lines] + ([1_000_000] if args.big and args.lines != 1_000_000 else [])
    logs = {(k, n): gen_logs(k, n) for n in sizes for k in ("nginx", "sshd")}
    if args.benign_lines:
        logs[("nginx-benign", args.benign_lines)] = gen_logs("nginx-benign", args.benign_lines)
    rows = []

    def row(name, r):
        st = r["stats"]
        rows.append((name, st["lines"], st["wall_s"], st["lines_per_s"], st["lines_per_cpu_s"],
                     st["cpu_us_per_line"], st["cpu_s"], r["peak_rss_mb"], len(r["alerts"]),
                     r["scenarios_loaded"]))

    # ---- a. own content
    say("== a. synsec, own content (scenarios/)")
    for (kind, n), (log, truth_p) in logs.items():
        r = run_worker({"mode": "replay", "log": str(log), "type": LOG_TYPE[kind]})
        truth = json.loads(truth_p.read_text())
        own = {n for v in OWN_NAME.values() for n in (v if isinstance(v, tuple) else (v,))}
        loaded = set(per_scenario(r["alerts"])) | own
        r["score"] = score(r["alerts"], truth, loaded, OWN_NAME)
        show_replay(f"{kind} {n}", r, r["score"])
        row(f"synsec own {kind} {n // 1000}k", r)
        report["own"][f"{kind}_{n}"] = {k: v for k, v in r.items() if k != "alerts"} | {
            "per_scenario": per_scenario(r["alerts"])}

    # ---- b. hub content
    paths = None if (args.no_hub and args.no_crowdsec) else crowdsec_paths()
    hub = hub_config(paths) if paths else None
    if hub and not args.no_hub:
        cfg, data = hub
        installed = json.loads((OUT / "hub" / "installed.json").read_text())
        hub_names = set(installed.get("scenario_names", []))
        say(f"== b. synsec, unmodified hub content ({', '.join(HUB_COLLECTIONS)})")
        for (kind, n), (log, truth_p) in logs.items():
            r = run_worker({"mode": "replay", "log": str(log), "type": LOG_TYPE[kind],
                            "config_dir": str(cfg), "data_dirs": [str(data)]})
            r["score"] = score(r["alerts"], json.loads(truth_p.read_text()), hub_names, None)
            show_replay(f"{kind} {n}", r, r["score"])
            row(f"synsec hub {kind} {n // 1000}k", r)
            report["hub"][f"{kind}_{n}"] = {k: v for k, v in r.items() if k != "alerts"} | {
                "per_scenario": per_scenario(r["alerts"])}

    # ---- c. CrowdSec on a prefix
    if hub and not args.no_crowdsec:
        import crowdsec_ref
        cfg, data = hub
        say("== c. CrowdSec 1.4.6 vs synsec (hub content) on the same prefix")
        for kind, n_pre, size in (("nginx", args.crowdsec_lines, args.lines),
                                  ("sshd", args.crowdsec_sshd_lines, args.lines),
                                  ("nginx-benign", args.crowdsec_benign_lines, args.benign_lines)):
            if n_pre <= 0 or (kind, size) not in logs:
                continue
            pre = prefix(logs[(kind, size)][0], n_pre)
            cs = crowdsec_ref.run_crowdsec(pre, LOG_TYPE[kind], HUB_COLLECTIONS,
                                           OUT / f"crowdsec-{kind}")
            sy = run_worker({"mode": "replay", "log": str(pre), "type": LOG_TYPE[kind],
                             "config_dir": str(cfg), "data_dirs": [str(data)]})
            cmp = compare_alerts(sy["alerts"], cs["alerts"])
            lines = sy["stats"]["lines"]
            cs_cpu_lps = round(lines / cs["cpu_s"], 1) if cs["cpu_s"] else None
            entry = {"lines": lines, "crowdsec_wall_s": cs["wall_s"],
                     "crowdsec_lines_per_s": cs["lines_per_s"], "crowdsec_cpu_s": cs["cpu_s"],
                     "crowdsec_lines_per_cpu_s": cs_cpu_lps, "crowdsec_peak_rss_mb": cs["max_rss_mb"],
                     "synsec_lines_per_s": sy["stats"]["lines_per_s"],
                     "synsec_lines_per_cpu_s": sy["stats"]["lines_per_cpu_s"],
                     "synsec_cpu_s": sy["stats"]["cpu_s"], "synsec_peak_rss_mb": sy["peak_rss_mb"],
                     "ratio_wall": round(sy["stats"]["lines_per_s"] / cs["lines_per_s"], 2),
                     "ratio_cpu": round(sy["stats"]["lines_per_cpu_s"] / cs_cpu_lps, 2)
                     if cs_cpu_lps else None,
                     "crowdsec_per_scenario": per_scenario(cs["alerts"]),
                     "synsec_per_scenario": per_scenario(sy["alerts"]), "alerts": cmp}
            report["crowdsec"][kind] = entry
            rows.append((f"crowdsec 1.4.6 {kind} {lines // 1000}k", lines, cs["wall_s"],
                         cs["lines_per_s"], cs_cpu_lps, round(1e6 * cs["cpu_s"] / lines, 1) if lines else None,
                         cs["cpu_s"], cs["max_rss_mb"],
                         len(cs["alerts"]), len(cs["installed"].get("scenario_names", []))))
            row(f"synsec hub {kind} {lines // 1000}k", sy)
            say(f"  {kind} first {lines} lines: CrowdSec {cs['lines_per_s']} lines/s "
                f"({cs['cpu_s']}s CPU, {cs['max_rss_mb']} MB, wall incl. ~2s shutdown) | synsec "
                f"{sy['stats']['lines_per_s']} lines/s ({sy['stats']['cpu_s']}s CPU, "
                f"{sy['peak_rss_mb']} MB) | ratio synsec/CrowdSec {entry['ratio_wall']}x wall, "
                f"{entry['ratio_cpu']}x CPU")
            say(f"    alerts (scenario, ip, events_count): synsec {cmp['synsec']}, CrowdSec "
                f"{cmp['crowdsec']} -> {'AGREE' if cmp['agree'] else 'DIFFER'}")
            for s in cmp["only_synsec"][:30]:
                say(f"      only synsec:   {s}")
            for s in cmp["only_crowdsec"][:30]:
                say(f"      only CrowdSec: {s}")

    # ---- d. memory
    if not args.no_memory:
        say("== d. memory")
        if args.big:
            big = report["own"].get("sshd_1000000")
            if big:
                report["memory"]["sshd_1M_peak_rss_mb_own"] = big["peak_rss_mb"]
                say(f"  peak RSS, 1M-line sshd replay (own content): {big['peak_rss_mb']} MB")
            bigh = report["hub"].get("sshd_1000000")
            if bigh:
                report["memory"]["sshd_1M_peak_rss_mb_hub"] = bigh["peak_rss_mb"]
                say(f"  peak RSS, 1M-line sshd replay (hub content): {bigh['peak_rss_mb']} MB")
        pts = []
        for n_ips in [int(x) for x in args.bucket_ips.split(",") if x]:
            r = run_worker({"mode": "buckets", "log": str(bucket_log(n_ips)), "type": "syslog"})
            delta = r["rss_after_kb"] - r["rss_before_kb"]
            per = delta * 1024 / r["live_buckets"] if r["live_buckets"] else None
            pts.append({"ips": n_ips, "live_buckets": r["live_buckets"],
                        "rss_before_mb": round(r["rss_before_kb"] / 1024, 1),
                        "rss_after_mb": round(r["rss_after_kb"] / 1024, 1),
                        "delta_mb": round(delta / 1024, 1), "bytes_per_live_bucket":
                        round(per) if per else None, "peak_rss_mb": r["peak_rss_mb"]})
            say(f"  {n_ips:7d} attacker IPs -> {r['live_buckets']:7d} live buckets: RSS "
                f"{pts[-1]['rss_before_mb']} -> {pts[-1]['rss_after_mb']} MB "
                f"(+{pts[-1]['delta_mb']} MB, ~{pts[-1]['bytes_per_live_bucket']} B/bucket)")
        if len(pts) >= 2 and pts[-1]["live_buckets"] > pts[0]["live_buckets"]:
            slope = ((pts[-1]["rss_after_mb"] - pts[0]["rss_after_mb"]) * 1024 * 1024
                     / (pts[-1]["live_buckets"] - pts[0]["live_buckets"]))
            report["memory"]["marginal_bytes_per_live_bucket"] = round(slope)
            say(f"  marginal cost (slope between {pts[0]['ips']} and {pts[-1]['ips']} IPs): "
                f"~{slope:.0f} bytes per live bucket (linear in live buckets; "
                f"{slope * 1e6 / 2**20:.0f} MB per million)")
        report["memory"]["bucket_points"] = pts

    # ---- e. summary
    say("\n== summary (lines/s = replay loop only; CPU s = replay loop; RSS = whole process peak)")
    hdr = ("run", "lines", "wall s", "lines/s", "lines/CPU-s", "CPU µs/line", "CPU s", "peak RSS MB",
           "alerts", "scenarios")
    table = [hdr] + [tuple("-" if v is None else (f"{v:.0f}" if isinstance(v, float) and v > 100
                                                  else str(v)) for v in r) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(hdr))]
    for r in table:
        say("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))))
    for kind, e in report["crowdsec"].items():
        say(f"  {kind}: synsec/CrowdSec = {e['ratio_wall']}x (wall), {e['ratio_cpu']}x (CPU); "
            f"alerts {'agree' if e['alerts']['agree'] else 'DIFFER'}")
    for kind, n in (("nginx", args.lines), ("nginx-benign", args.benign_lines)):
        h = report["hub"].get(f"{kind}_{n}")
        if h:
            say(f"  target >= 25000 {kind} lines/s on hub content: {h['stats']['lines_per_s']:.0f} "
                f"(wall), {h['stats']['lines_per_cpu_s']:.0f} (per CPU-s) -> "
                f"{h['stats']['lines_per_cpu_s'] / 25000:.0%} of target")
    report["summary_rows"] = [dict(zip(hdr, r)) for r in rows]
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["total_s"] = round(time.monotonic() - t_start, 1)
    say(f"  code: HEAD {report['code']['head']}"
        + (f" + uncommitted {', '.join(report['code']['dirty_engine_files'])}"
           if report["code"]["dirty_engine_files"] else " (clean)"))
    say(f"  total bench time {report['total_s']}s; load average {report['machine']['loadavg_start']}"
        f" -> {report['machine']['loadavg_end']} (other load inflates wall figures; "
        f"lines/CPU-s is the robust one)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
