"""`make bench-api`: the decision consumers under load with 100k active decisions, and enforcement time.

Generates N decisions (IPv4 addresses, 5% IPv6, and a share of ranges of mixed prefix lengths), then
  api    writes them to a fresh embedded store, starts `synsec api` on a free loopback port (its own process) and
         loads `GET /v1/decisions?ip=` with hit, range-hit and miss addresses;
  nginx  produces them to `synsec.decisions` on a local tansu broker, starts `synsec bouncer nginx` (its own
         process) and loads its auth_request endpoint `GET /auth`, then nginx (shipped snippet, static location);
         then for `--enforce` fresh addresses, produces a ban and polls nginx as that client until it answers 403
         (bench/api_nginx.py).
Load comes from this process: `wrk --latency` (a Lua script cycling through the addresses) when it is installed
(`apt-get install -y wrk`), else an aiohttp generator holding `--connections` keep-alive connections.
Prints requests/s, p50, p99 of each load run and p50/p99/max of produce → 403. About 1.5 minutes.

    .venv/bin/python bench/api.py [--decisions 100000] [--seconds 10] [--connections 32] [--enforce 50]
                                  [--parts api,nginx] [--python]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_decisions(n: int, range_share: float, rng: random.Random):
    """(decisions, sample query addresses): Ip decisions on distinct addresses, Range ones of /16–/30."""
    from synsec.engine.model import Decision

    decisions, hits = [], []
    n_ranges = int(n * range_share)
    seen: set[int] = set()
    for i in range(n):
        if i < n_ranges:
            plen = rng.choice((16, 20, 24, 24, 24, 28, 30))
            net = ipaddress.ip_network((rng.getrandbits(32) >> (32 - plen) << (32 - plen), plen))
            value, scope = str(net), "Range"
            hits.append(str(net.network_address + rng.randrange(net.num_addresses)))
        else:
            addr = rng.getrandbits(32)
            while addr in seen:
                addr = rng.getrandbits(32)
            seen.add(addr)
            value, scope = (str(ipaddress.ip_address(addr)) if i % 20 else
                            str(ipaddress.IPv6Address((0x20010db8 << 96) | addr)), "Ip")
            hits.append(value)
        decisions.append(Decision(origin="synsec", scenario="bench/scenario", scope=scope, value=value,
                                  type="ban", duration=4 * 3600, until=0.0, id=str(uuid.uuid4())))
    return decisions, hits


def query_ips(hits: list[str], rng: random.Random, count: int = 4000) -> list[str]:
    """Half addresses with a decision (IP or inside a range), half random addresses (mostly misses)."""
    return [rng.choice(hits) if i % 2 else str(ipaddress.ip_address(rng.getrandbits(32))) for i in range(count)]


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=1).read()
            return
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("synsec api did not start") from None
            time.sleep(0.2)


_LUA = """
reqs = {%s}
counter = 0
statuses = {}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
request = function()
  counter = counter + 1
  local r = reqs[(counter %% #reqs) + 1]
  return wrk.format("GET", r[1], r[2])
end
response = function(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
done = function(summary, latency, requests)
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do io.write(string.format("status %%d %%d\\n", code, n)) end
  end
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _lua_request(path: str, headers: dict[str, str]) -> str:
    return '{"%s", {%s}}' % (path, ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items()))


def run_wrk(url: str, requests: list[tuple[str, dict]], seconds: int, connections: int, threads: int, work: Path):
    """wrk --latency cycling through `requests` ((path, headers) pairs); figures parsed from its report."""
    script = work / "bench.lua"
    script.write_text(_LUA % ",\n".join(_lua_request(p, h) for p, h in requests))
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    pct = {m[0]: float(m[1]) * _UNITS[m[2]] for m in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    statuses: dict[int, int] = {}
    for code, n in re.findall(r"^status (\d+) (\d+)$", out, re.M):
        statuses[int(code)] = statuses.get(int(code), 0) + int(n)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"tool": "wrk", "rps": rps, "p50_ms": pct["50"], "p99_ms": pct["99"], "requests": total,
            "statuses": statuses, "socket_errors": sock.group(1) if sock else "", "raw": out}


async def _python_load(url: str, requests: list[tuple[str, dict]], seconds: int, connections: int):
    import aiohttp

    lat: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=connections)
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))    # the requests hold the paths
    async with aiohttp.ClientSession(origin, connector=conn) as session:
        async def worker(offset: int):
            i = offset * len(requests) // connections    # each worker walks the whole list (hits and misses)
            while time.monotonic() < deadline:
                path, headers = requests[i % len(requests)]
                t0 = time.perf_counter()
                async with session.get(path, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                lat.append(time.perf_counter() - t0)
                i += 1
        t0 = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(connections)))
        elapsed = time.monotonic() - t0
    lat.sort()
    return {"tool": "aiohttp", "rps": len(lat) / elapsed, "p50_ms": lat[len(lat) // 2] * 1e3,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1e3, "requests": len(lat), "statuses": statuses, "socket_errors": ""}


def listen_overflows() -> int:
    """The kernel's TcpExt ListenOverflows counter (system-wide: connections dropped on a full accept queue)."""
    try:
        head, values = [line.split() for line in open("/proc/net/netstat") if line.startswith("TcpExt:")][:2]
        return int(values[head.index("ListenOverflows")])
    except (OSError, ValueError):
        return 0


def load(url: str, requests: list[tuple[str, dict]], args, work: Path) -> dict:
    """Drive `url` for args.seconds from this process: wrk when installed (and not --python), else aiohttp."""
    before = listen_overflows()
    if shutil.which("wrk") and not args.python:
        res = run_wrk(url, requests, args.seconds, args.connections, args.threads, work)
    else:
        if not args.python:
            print("  (wrk not found: apt-get install -y wrk; using the aiohttp generator)", flush=True)
        res = asyncio.run(_python_load(url, requests, args.seconds, args.connections))
    res["listen_overflows"] = listen_overflows() - before
    return res


def report(what: str, res: dict, args) -> None:
    print(f"{what}: {args.connections} connections, {args.seconds}s ({res['tool']})")
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(res["statuses"].items()))
    extra = f"   socket errors: {res['socket_errors']}" if res["socket_errors"] else ""
    print(f"  requests/s {res['rps']:.0f}   p50 {res['p50_ms']:.2f} ms   p99 {res['p99_ms']:.2f} ms   "
          f"of {res['requests']} requests: {codes}   listen-queue overflows {res['listen_overflows']}{extra}",
          flush=True)


def quantiles(values: list[float]) -> str:
    """'p50 … p99 … max …' in ms (nearest rank)."""
    v = sorted(values)
    p50, p99 = (v[min(len(v) - 1, int(len(v) * p))] * 1e3 for p in (0.5, 0.99))
    return f"p50 {p50:.0f} ms   p99 {p99:.0f} ms   max {v[-1] * 1e3:.0f} ms   (n={len(v)})"


def bench_api(args, decisions, hits, rng: random.Random, work: Path) -> None:
    """synsec api (own process) over the embedded store holding `decisions`; load on GET /v1/decisions?ip=."""
    from synsec.store import Store

    t0 = time.perf_counter()
    store = Store(work / "state")
    store.add([], decisions)
    key = store.add_bouncer("bench")
    store.close()
    print(f"store: {len(decisions)} decisions written in {time.perf_counter() - t0:.1f}s", flush=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "synsec.cli.main", "api", "--listen", f"127.0.0.1:{port}",
                             "--state-dir", str(work / "state")], stdout=open(work / "api.log", "wb"),
                            stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_up(url, proc)
        print(f"synsec api up (pid {proc.pid}) in {time.perf_counter() - t0:.1f}s", flush=True)
        requests = [(f"/v1/decisions?ip={ip}", {"X-Api-Key": key}) for ip in query_ips(hits, rng)]
        body = urllib.request.urlopen(urllib.request.Request(url + requests[1][0], headers=requests[1][1])).read()
        assert body != b"null", "a sampled hit address returned no decision"
        report(f"GET /v1/decisions?ip= with {len(decisions)} active decisions", load(url, requests, args, work), args)
    finally:
        from bench.api_nginx import stop

        stop(proc)


def bench_nginx(args, decisions, hits, rng: random.Random, work: Path) -> None:
    """The nginx bouncer following a topic holding `decisions`: its /auth and nginx under load, then
    produce → 403 for args.enforce fresh addresses."""
    from bench.api_nginx import NGINX, TOPIC, NginxStack, enforcement_latencies, fresh_ips

    if not Path(NGINX).exists():
        print("nginx part skipped: nginx is not installed (apt-get install -y nginx-light)")
        return
    with NginxStack(work) as stack:
        seconds, last = stack.load(decisions, hits)
        print(f"topic: {len(decisions)} decisions produced to {TOPIC} in {seconds:.1f}s", flush=True)
        caught_up = stack.start_bouncer(last)
        print(f"synsec bouncer nginx (pid {stack.bouncer.pid}) holds them {caught_up:.1f}s after its start",
              flush=True)
        ips = query_ips(hits, rng)
        report("bouncer GET /auth (auth_request endpoint, X-Real-IP)",
               load(stack.bouncer_url, [("/auth", {"X-Real-IP": ip}) for ip in ips], args, work), args)
        stack.start_nginx()
        report("nginx GET / (static file behind auth_request, X-Forwarded-For)",
               load(stack.nginx_url, [("/", {"X-Forwarded-For": ip}) for ip in ips], args, work), args)
        lat, skipped = enforcement_latencies(stack, fresh_ips(args.enforce, rng, set(hits)))
        print(f"produce -> nginx 403 for {len(lat)} fresh addresses ({skipped} skipped: already covered):")
        print(f"  {quantiles(lat)}", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decisions", type=int, default=100_000)
    ap.add_argument("--ranges", type=float, default=0.05, help="Share of Range decisions.")
    ap.add_argument("--seconds", type=int, default=10, help="Length of each load run.")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads.")
    ap.add_argument("--python", action="store_true", help="Use the aiohttp generator even if wrk is installed.")
    ap.add_argument("--enforce", type=int, default=50, help="Fresh addresses for produce -> 403.")
    ap.add_argument("--parts", default="api,nginx", help="Comma-separated: api, nginx.")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    parts = set(args.parts.split(","))
    if not parts or parts - {"api", "nginx"}:
        ap.error(f"--parts: expected a comma-separated subset of api,nginx, got {args.parts!r}")

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="synsec-bench-api-"))
    try:
        t0 = time.perf_counter()
        decisions, hits = make_decisions(args.decisions, args.ranges, rng)
        print(f"{len(decisions)} decisions ({int(len(decisions) * args.ranges)} ranges, "
              f"{len(decisions) // 20} IPv6) generated in {time.perf_counter() - t0:.1f}s", flush=True)
        if "api" in parts:
            bench_api(args, decisions, hits, rng, work)
        if "nginx" in parts:
            bench_nginx(args, decisions, hits, rng, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
