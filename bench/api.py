"""`make bench-api`: p50/p99 latency and requests/s of `GET /v1/decisions?ip=` with 100k active decisions.

Loads N decisions (IPv4 addresses, some IPv6, and a share of ranges of mixed prefix lengths) into a fresh
embedded store, starts `synsec api` on a free loopback port (its own process), then drives it from this process:
with `wrk` (`--latency`, a Lua script cycling through hit, range-hit and miss addresses) when it is installed,
else with an aiohttp generator holding `--connections` keep-alive connections. Prints requests/s, p50, p99.

    .venv/bin/python bench/api.py [--decisions 100000] [--seconds 15] [--connections 32] [--python]
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


def query_paths(hits: list[str], rng: random.Random, count: int = 4000) -> list[str]:
    """Half addresses with a decision (IP or inside a range), half random addresses (mostly misses)."""
    paths = []
    for i in range(count):
        ip = rng.choice(hits) if i % 2 else str(ipaddress.ip_address(rng.getrandbits(32)))
        paths.append(f"/v1/decisions?ip={ip}")
    return paths


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
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], {["X-Api-Key"] = "%s"})
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def run_wrk(url: str, key: str, paths: list[str], seconds: int, connections: int, threads: int, work: Path):
    script = work / "bench.lua"
    script.write_text(_LUA % (",".join(f'"{p}"' for p in paths), key))
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    pct = {m[0]: float(m[1]) * _UNITS[m[2]] for m in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"tool": "wrk", "rps": rps, "p50_ms": pct["50"], "p99_ms": pct["99"],
            "errors": int(errors.group(1)) if errors else 0, "raw": out}


async def _python_load(url: str, key: str, paths: list[str], seconds: int, connections: int):
    import aiohttp

    lat: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(url, connector=conn, headers={"X-Api-Key": key}) as session:
        async def worker(offset: int):
            nonlocal errors
            i = offset
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                async with session.get(paths[i % len(paths)]) as resp:
                    await resp.read()
                    errors += resp.status != 200
                lat.append(time.perf_counter() - t0)
                i += connections
        t0 = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(connections)))
        elapsed = time.monotonic() - t0
    lat.sort()
    return {"tool": "aiohttp", "rps": len(lat) / elapsed, "p50_ms": lat[len(lat) // 2] * 1e3,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1e3, "errors": errors}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decisions", type=int, default=100_000)
    ap.add_argument("--ranges", type=float, default=0.05, help="Share of Range decisions.")
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads.")
    ap.add_argument("--python", action="store_true", help="Use the aiohttp generator even if wrk is installed.")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    from synsec.store import Store

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="synsec-bench-api-"))
    proc = None
    try:
        t0 = time.perf_counter()
        decisions, hits = make_decisions(args.decisions, args.ranges, rng)
        store = Store(work / "state")
        store.add([], decisions)
        key = store.add_bouncer("bench")
        store.close()
        print(f"loaded {len(decisions)} decisions ({int(len(decisions) * args.ranges)} ranges) "
              f"in {time.perf_counter() - t0:.1f}s", flush=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(work / "api.log", "wb")
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "synsec.cli.main", "api", "--listen", f"127.0.0.1:{port}",
                                 "--state-dir", str(work / "state")], stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_up(url, proc)
        print(f"synsec api up (pid {proc.pid}) in {time.perf_counter() - t0:.1f}s", flush=True)
        paths = query_paths(hits, rng)
        body = urllib.request.urlopen(urllib.request.Request(url + paths[1], headers={"X-Api-Key": key})).read()
        assert body != b"null", "a sampled hit address returned no decision"
        if shutil.which("wrk") and not args.python:
            res = run_wrk(url, key, paths, args.seconds, args.connections, args.threads, work)
        else:
            res = asyncio.run(_python_load(url, key, paths, args.seconds, args.connections))
        print(f"GET /v1/decisions?ip= with {len(decisions)} active decisions, {args.connections} connections, "
              f"{args.seconds}s ({res['tool']}):")
        print(f"  requests/s {res['rps']:.0f}   p50 {res['p50_ms']:.2f} ms   p99 {res['p99_ms']:.2f} ms   "
              f"non-200 {res['errors']}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
