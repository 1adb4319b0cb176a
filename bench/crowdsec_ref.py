"""Run the real CrowdSec 1.4.6 (Debian build) on a log file, offline, and collect its alerts.

What we learned by experiment (crowdsec v1.4.6-6~deb12u1+b1-linux-debian, Go 1.19):

* Command line (time-machine / replay mode; the process exits when the file is consumed):
      crowdsec -c CFG/config.yaml -dsn file:///abs/path.log -type nginx|syslog -no-api
  `-dsn` needs `-type` (it becomes `Labels.type`). `-no-api` disables the *local API server* only:
  the agent's output routine still logs in to a LAPI at startup (`api.client.credentials_path`),
  and without an `api:` section crowdsec dies with "loading api client: no API client section in
  configuration"; with an unreachable URL it dies with "authenticate watcher ... connection refused".
  So we serve a tiny fake LAPI on 127.0.0.1:<free port> in this process: it answers
  POST /v1/watchers/login with a JWT-shaped reply and records POST /v1/alerts bodies. Those are the
  alerts crowdsec would have sent to its LAPI (exact scenario, source, events_count, start/stop).
* `-dump-data DIR` writes DIR/parser-dump.yaml, DIR/bucketpour-dump.yaml and DIR/bucket-dump.yaml
  (the latter holds the overflows: a list of `{Type: 1, Overflow: {Alert: {scenario, eventscount,
  startat, stopat, ...}, Sources: {ip: ...}, Whitelisted}}`). BUT with -dump-data crowdsec keeps
  every parser/bucket state of every line in memory and calls os.Exit right after writing the dumps,
  before its output routine flushes alerts to the LAPI. The dumps are tens of MB per 10k lines and
  distort CPU/RSS, so benchmarks run *without* -dump-data and take alerts from the fake LAPI;
  `dump=True` (CLI `--dump`) adds -dump-data and parses bucket-dump.yaml instead (for debugging).
  Measured on a 20k-line gen_log sshd file: same 28 alerts both ways, but -dump-data took 14.7 CPU-s
  and 1476 MB peak RSS (34 MB parser-dump.yaml) against 3.6 CPU-s and 56 MB without it.
* Time-machine needs `crowdsecurity/dateparse-enrich` (s02-enrich), otherwise every event is
  "Trying to time-machine event without timestamp" and takes the wall clock. For non-syslog types
  the s00-raw `crowdsecurity/syslog-logs` file's second node copies `-type` into `program`, which
  is what `nginx-logs` filters on; so syslog-logs + dateparse-enrich are always installed (they are
  what the `crowdsecurity/linux` collection brings), plus `crowdsecurity/whitelists` (installed by
  crowdsec's wizard on every setup; it only whitelists 127.0.0.1, ::1 and RFC1918 ranges).
* Syslog lines carry no year: dateparse assumes the current year. Keep replayed logs within one
  year boundary-free window.
* hub_dir must hold `.index.json` and the item files; installed items are symlinks
  CFG/parsers/<stage>/<file>.yaml -> HUB/parsers/<stage>/<author>/<file>.yaml (what
  `cscli parsers install` does; scenarios go to CFG/scenarios/<file>.yaml). Our temp hub_dir is a set
  of symlinks to the unpacked Debian hub. Data files: items declare `data: [{source_url, dest_file}]`;
  cscli would download source_url into data_dir/dest_file. We copy the Debian copy of the file
  instead, matched by dest_file or by basename(source_url) (e.g. http-path-traversal-probing wants
  `http_path_traversal.txt`, Debian ships `path_traversal.txt`).
* GeoIP plugins log "unable to register plugin 'GeoIpCity' ... GeoLite2-City.mmdb" at startup:
  harmless, we install neither geoip-enrich (not even shipped in the Debian hub) nor the
  postoverflows that need mmdb or DNS (rdns, ipv6_to_range).
* Network: no `api.server` section (so no CAPI/console), `prometheus.enabled: false`, no hub
  update (cscli is never run); the only socket crowdsec opens is to our fake LAPI on 127.0.0.1
  (checked with `strace -f -e trace=connect`). Proxy environment variables are removed.
* Shutdown after EOF costs ~2 s (bucket routine + output flush), included in wall time.
* CPU seconds and peak RSS are those of the crowdsec process itself (os.wait4 rusage). crowdsec
  uses more than one core, and wall time depends on machine load: compare CPU seconds.
* Default collections: nginx -> crowdsecurity/nginx + base-http-scenarios (+ http-cve) + wordpress;
  syslog -> crowdsecurity/linux + sshd. Scenario names differ from hub item names (item
  crowdsecurity/http-sqli-probing loads scenario crowdsecurity/http-sqli-probbing-detection;
  http-generic-bf also loads LePresidente/http-generic-401-bf and -403-bf); result["installed"]
  ["scenario_names"] lists the loaded scenario names.
* Figures (2 vCPU, other jobs running; gen_log --seed 1; all alerts == gen_log ground truth,
  no alert on a benign IP): nginx 20k lines 85 CPU-s, ~220 lines/s wall, 80 MB RSS, 12 alerts;
  sshd 20k lines 3.6 CPU-s, ~3000 lines/s, 56 MB, 28 alerts; nginx 100k lines 460 CPU-s,
  503 s wall (~200 lines/s), 84 MB, 87 alerts.
* Bad user agents: bad_user_agents.regex.txt is matched case-sensitively (`\\bSqlmap\\b`), so
  sqlmap's default UA "sqlmap/1.7.2#stable (...)" does NOT trip http-bad-user-agent in 1.4.6;
  "Nikto", "Nmap", "masscan", "zgrab", "WPScan", "gobuster" do (checked against the binary).

CLI:
    python bench/crowdsec_ref.py LOG --type nginx \
        --collections crowdsecurity/nginx,crowdsecurity/base-http-scenarios [--json OUT] [--dump]
        [--truth GEN_LOG_TRUTH.json]   (prints missing/unexpected (ip, scenario) pairs)
"""

from __future__ import annotations

import argparse
import collections as _collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
HUB_SCRIPT = REPO / "scripts" / "crowdsec-hub.sh"

# parsers every replay needs (see module docstring)
BASE_PARSERS = (
    "crowdsecurity/syslog-logs",
    "crowdsecurity/dateparse-enrich",
    "crowdsecurity/whitelists",
)
# items needing GeoIP mmdb files or DNS lookups: never installed
EXCLUDED = {
    "crowdsecurity/geoip-enrich",
    "crowdsecurity/rdns",
    "crowdsecurity/ipv6_to_range",
}
DEFAULT_COLLECTIONS = {
    "nginx": ["crowdsecurity/nginx", "crowdsecurity/base-http-scenarios", "crowdsecurity/wordpress"],
    "syslog": ["crowdsecurity/linux", "crowdsecurity/sshd"],
}
ITEM_KINDS = ("parsers", "scenarios", "postoverflows")


# --------------------------------------------------------------------------- locating crowdsec
def locate_crowdsec(dest: str | os.PathLike | None = None) -> dict[str, Path]:
    """Run scripts/crowdsec-hub.sh (idempotent) and return its KEY=PATH lines as Paths."""
    cmd = ["bash", str(HUB_SCRIPT)]
    if dest is not None:
        cmd.append(str(dest))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    paths = {}
    for line in out.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            paths[k.strip()] = Path(v.strip())
    for k in ("CROWDSEC_BIN", "CROWDSEC_HUB", "CROWDSEC_PATTERNS", "CROWDSEC_DATA"):
        if k not in paths:
            raise RuntimeError(f"crowdsec-hub.sh did not print {k}: {out!r}")
    return paths


# --------------------------------------------------------------------------- hub resolution
def resolve_items(index: dict, collections: list[str]) -> dict[str, list[str]]:
    """Expand collections (recursively) into parser/scenario/postoverflow names, like cscli."""
    items: dict[str, list[str]] = {k: [] for k in ITEM_KINDS}
    seen_cols: set[str] = set()

    def add(kind: str, name: str) -> None:
        if name in EXCLUDED or name in items[kind]:
            return
        if name not in index.get(kind, {}):
            raise KeyError(f"{kind[:-1]} {name!r} not in hub index")
        items[kind].append(name)

    def walk(col: str) -> None:
        if col in seen_cols:
            return
        seen_cols.add(col)
        if col not in index["collections"]:
            raise KeyError(f"collection {col!r} not in hub index")
        c = index["collections"][col]
        for kind in ITEM_KINDS:
            for name in c.get(kind) or []:
                add(kind, name)
        for sub in c.get("collections") or []:
            walk(sub)

    for p in BASE_PARSERS:
        add("parsers", p)
    for col in collections:
        walk(col)
    return items


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_config(workdir: Path, paths: dict[str, Path], collections: list[str], lapi_url: str,
                 log_level: str = "info") -> Path:
    """Write a self-contained crowdsec config tree under workdir; return config.yaml path."""
    workdir = Path(workdir).resolve()
    cfg = workdir / "cfg"
    hub = workdir / "hub"
    data = workdir / "data"
    for d in (cfg, hub, data):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    src_hub = paths["CROWDSEC_HUB"]
    for name in (".index.json", "parsers", "scenarios", "postoverflows", "collections"):
        (hub / name).symlink_to(src_hub / name)
    index = json.loads((src_hub / ".index.json").read_text())
    items = resolve_items(index, collections)

    data_needed: dict[str, str] = {}  # dest_file -> source_url
    installed: dict[str, list[str]] = {k: [] for k in ITEM_KINDS}
    for kind in ITEM_KINDS:
        for name in items[kind]:
            meta = index[kind][name]
            rel = meta["path"]
            src = hub / rel
            if not src.exists():
                print(f"crowdsec_ref: skip {name}: {rel} not shipped in the hub", file=sys.stderr)
                continue
            if kind == "scenarios":
                dst_dir = cfg / "scenarios"
            else:
                dst_dir = cfg / kind / meta["stage"]
            dst_dir.mkdir(parents=True, exist_ok=True)
            dst = dst_dir / Path(rel).name
            if dst.exists() or dst.is_symlink():
                raise RuntimeError(f"two hub items install to {dst}")
            dst.symlink_to(src)
            installed[kind].append(name)
            for doc in yaml.safe_load_all(src.read_text()):
                if kind == "scenarios" and (doc or {}).get("name"):
                    installed.setdefault("scenario_names", []).append(doc["name"])
                for d in (doc or {}).get("data") or []:
                    data_needed[d["dest_file"]] = d.get("source_url", "")

    src_data = paths["CROWDSEC_DATA"]
    for dest_file, url in data_needed.items():
        cands = [src_data / dest_file, src_data / Path(url).name]
        src = next((c for c in cands if c.exists()), None)
        if src is None:
            print(f"crowdsec_ref: data file {dest_file} not shipped; creating it empty",
                  file=sys.stderr)
            (data / dest_file).touch()
        else:
            shutil.copyfile(src, data / dest_file)

    shutil.copytree(paths["CROWDSEC_PATTERNS"], cfg / "patterns")
    (cfg / "simulation.yaml").write_text("simulation: off\n")
    (cfg / "acquis.yaml").write_text("")  # unused with -dsn, but must exist
    (cfg / "local_api_credentials.yaml").write_text(
        yaml.safe_dump({"url": lapi_url, "login": "synsec-bench", "password": "synsec-bench"}))
    config = {
        "common": {"daemonize": False, "log_media": "stdout", "log_level": log_level,
                   "working_dir": str(workdir)},
        "config_paths": {
            "config_dir": f"{cfg}/",
            "data_dir": f"{data}/",
            "simulation_path": str(cfg / "simulation.yaml"),
            "hub_dir": f"{hub}/",
            "index_path": str(hub / ".index.json"),
            "notification_dir": str(cfg / "notifications"),
            "plugin_dir": str(cfg / "plugins"),
        },
        "crowdsec_service": {"acquisition_path": str(cfg / "acquis.yaml"), "parser_routines": 1},
        # no `server:` section -> no LAPI server, no CAPI, no console
        "api": {"client": {"insecure_skip_verify": False,
                           "credentials_path": str(cfg / "local_api_credentials.yaml")}},
        "prometheus": {"enabled": False, "level": "full", "listen_addr": "127.0.0.1",
                       "listen_port": _free_port()},
    }
    path = cfg / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (workdir / "installed.json").write_text(json.dumps(installed, indent=1))
    return path


# --------------------------------------------------------------------------- fake LAPI
class _FakeLAPI:
    """Minimal LAPI: accepts any watcher login, records pushed alerts."""

    def __init__(self) -> None:
        self.alerts: list[dict] = []
        self.requests: list[str] = []
        lapi = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # silence
                pass

            def _reply(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                lapi.requests.append(f"POST {self.path}")
                if self.path.startswith("/v1/watchers/login"):
                    self._reply(200, {"code": 200, "expire": "2099-01-01T00:00:00Z",
                                      "token": "synsec-bench-token"})
                elif self.path.startswith("/v1/alerts"):
                    got = json.loads(body or b"[]")
                    base = len(lapi.alerts)
                    lapi.alerts.extend(got)
                    self._reply(201, [str(base + i + 1) for i in range(len(got))])
                else:
                    self._reply(200, {})

            def do_GET(self):
                lapi.requests.append(f"GET {self.path}")
                self._reply(200, {} if "heartbeat" in self.path else [])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- results
def _alert_from_lapi(a: dict) -> dict:
    src = a.get("source") or {}
    return {"scenario": a.get("scenario"), "source_ip": src.get("ip") or src.get("value"),
            "events_count": a.get("events_count"), "start_at": a.get("start_at"),
            "stop_at": a.get("stop_at")}


def parse_bucket_dump(path: Path) -> list[dict]:
    """Overflows from -dump-data's bucket-dump.yaml (whitelisted ones dropped)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path) as f:
        docs = yaml.load(f, Loader=loader) or []
    out = []
    for ev in docs:
        ov = (ev or {}).get("Overflow") or {}
        al = ov.get("Alert")
        if not al or ov.get("Whitelisted"):
            continue
        src = al.get("source") or {}
        ip = src.get("ip") or src.get("value") or next(iter(ov.get("Sources") or {}), None)
        out.append({"scenario": al.get("scenario"), "source_ip": ip,
                    "events_count": al.get("eventscount"), "start_at": al.get("startat"),
                    "stop_at": al.get("stopat")})
    return out


def _sort_alerts(alerts: list[dict]) -> list[dict]:
    return sorted(alerts, key=lambda a: (a["start_at"] or "", a["scenario"] or "",
                                         a["source_ip"] or ""))


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return n


# --------------------------------------------------------------------------- main entry
def run_crowdsec(log_path, log_type: str, collections: list[str] | None, workdir,
                 *, dump: bool = False, timeout: float = 3600.0, log_level: str = "info",
                 crowdsec_dest=None) -> dict:
    """Replay log_path through CrowdSec 1.4.6; return alerts and resource figures.

    Returns dict(alerts=[{scenario, source_ip, events_count, start_at, stop_at}], wall_s, cpu_s,
    max_rss_mb, lines, lines_per_s, returncode, cmd, log, workdir, installed).
    """
    log_path = Path(log_path).resolve()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if not collections:
        collections = DEFAULT_COLLECTIONS.get(log_type, [])
    paths = locate_crowdsec(crowdsec_dest)
    lines = _count_lines(log_path)

    with _FakeLAPI() as lapi:
        cfg = build_config(workdir, paths, list(collections), lapi.url, log_level)
        cmd = [str(paths["CROWDSEC_BIN"]), "-c", str(cfg), "-dsn", f"file://{log_path}",
               "-type", log_type, "-no-api"]
        dump_dir = workdir / "dump"
        if dump:
            if dump_dir.exists():
                shutil.rmtree(dump_dir)
            dump_dir.mkdir()
            cmd += ["-dump-data", str(dump_dir)]
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        env["NO_PROXY"] = "127.0.0.1"
        log_file = workdir / "crowdsec.log"
        with open(log_file, "wb") as lf:
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, env=env,
                                    cwd=workdir)
            timed_out = False
            deadline = t0 + timeout
            while True:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    timed_out = True
                    os.kill(proc.pid, signal.SIGKILL)  # our own child, by PID
                    pid, status, ru = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
            wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        lapi_alerts = list(lapi.alerts)

    if dump:
        bd = dump_dir / "bucket-dump.yaml"
        alerts = parse_bucket_dump(bd) if bd.exists() else []
    else:
        alerts = [_alert_from_lapi(a) for a in lapi_alerts]
    tail = log_file.read_text(errors="replace").splitlines()[-20:]
    if timed_out:
        raise TimeoutError(f"crowdsec did not finish within {timeout}s; log tail:\n"
                           + "\n".join(tail))
    if proc.returncode != 0:
        raise RuntimeError(f"crowdsec exited {proc.returncode}; log tail:\n" + "\n".join(tail))
    cpu = ru.ru_utime + ru.ru_stime
    return {
        "alerts": _sort_alerts(alerts),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "max_rss_mb": round(ru.ru_maxrss / 1024.0, 1),  # ru_maxrss is KiB on Linux
        "lines": lines,
        "lines_per_s": round(lines / wall, 1) if wall > 0 else None,
        "returncode": proc.returncode,
        "cmd": cmd,
        "log": str(log_file),
        "workdir": str(workdir),
        "installed": json.loads((workdir / "installed.json").read_text()),
    }


def summarize(res: dict) -> dict:
    per = _collections.Counter(a["scenario"] for a in res["alerts"])
    return {"lines": res["lines"], "wall_s": res["wall_s"], "lines_per_s": res["lines_per_s"],
            "cpu_s": res["cpu_s"], "max_rss_mb": res["max_rss_mb"],
            "alerts": len(res["alerts"]), "per_scenario": dict(sorted(per.items()))}


def compare_with_truth(alerts: list[dict], truth: dict, scenarios=None) -> dict:
    """Compare alerts with bench/gen_log.py ground truth as sets of (ip, scenario).

    scenarios: names of the scenarios that were loaded (run_crowdsec()["installed"]
    ["scenario_names"]); expected alerts of other scenarios are ignored.
    """
    want = _collections.Counter()
    for a in truth["attackers"]:
        for sc, n in a["expected_alerts"].items():
            if scenarios is None or sc in scenarios:
                want[(a["ip"], sc)] += n
    got = _collections.Counter((a["source_ip"], a["scenario"]) for a in alerts)
    attackers = set(truth.get("attacker_ips") or [a["ip"] for a in truth["attackers"]])
    return {
        "expected_pairs": len(want), "got_pairs": len(got),
        "missing": sorted(f"{ip} {sc}" for ip, sc in set(want) - set(got)),
        "unexpected": sorted(f"{ip} {sc}" for ip, sc in set(got) - set(want)),
        "count_mismatch": sorted(f"{ip} {sc} want={want[(ip, sc)]} got={got[(ip, sc)]}"
                                 for ip, sc in set(want) & set(got)
                                 if want[(ip, sc)] != got[(ip, sc)]),
        "benign_ips_alerted": sorted({ip for ip, _ in got if ip not in attackers}),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--type", required=True, help="crowdsec -type label: nginx, syslog, ...")
    ap.add_argument("--collections", default="",
                    help="comma-separated hub collections (default depends on --type)")
    ap.add_argument("--workdir", help="keep the generated config/logs here (default: temp dir)")
    ap.add_argument("--json", help="write the full result (alerts + figures) to this file")
    ap.add_argument("--dump", action="store_true", help="use -dump-data and parse bucket-dump")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--truth", help="bench/gen_log.py ground truth JSON to compare with")
    args = ap.parse_args(argv)
    cols = [c for c in args.collections.split(",") if c.strip()]
    if args.workdir:
        res = run_crowdsec(args.log, args.type, cols, args.workdir, dump=args.dump,
                           timeout=args.timeout, log_level=args.log_level)
    else:
        with tempfile.TemporaryDirectory(prefix="crowdsec-ref-") as td:
            res = run_crowdsec(args.log, args.type, cols, td, dump=args.dump,
                               timeout=args.timeout, log_level=args.log_level)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    s = summarize(res)
    print(f"crowdsec: {' '.join(res['cmd'])}")
    print(f"lines={s['lines']} wall={s['wall_s']}s lines/s={s['lines_per_s']} "
          f"cpu={s['cpu_s']}s max_rss={s['max_rss_mb']}MB alerts={s['alerts']}")
    for k, v in s["per_scenario"].items():
        print(f"  {v:6d}  {k}")
    if args.truth:
        cmp = compare_with_truth(res["alerts"], json.loads(Path(args.truth).read_text()),
                                 set(res["installed"].get("scenario_names", [])))
        print("vs truth: " + json.dumps(cmp, indent=1))
    elif not args.json:
        print(json.dumps(res["alerts"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
