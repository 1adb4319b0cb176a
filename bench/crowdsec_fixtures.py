"""CrowdSec's own engine fixtures run through synsec's engine: the bucket tests (`pkg/leakybucket/testdata/*/`, 1.4.6:
`tests/`) and the parser tests (`pkg/parser/testdata/*/`) of a CrowdSec source checkout, read as CrowdSec's Go test
harness reads them, with pass rates per family and the failures grouped by cause.

    .venv/bin/python bench/crowdsec_fixtures.py --crowdsec DIR [--only TEXT] [--json OUT] [-v]

How the Go harness's behaviour is read here (facts of pkg/leakybucket/bucketstore_test.go, 1.4.6 buckets_test.go,
pkg/parser/parsing_test.go):
- buckets: `scenarios.yaml` lists scenario files (`{{.TestDirectory}}` is the fixture dir); data files are found
  below the fixtures' root. Every line of `test.json` is poured at its `MarshaledTime`; the results are every
  event the buckets send: overflows (compared by scenario, events_count and the sources, every field of them) and
  bucket ends without an alert (an "Alert" with no inner alert: an underflow, a cancel_on, an overflow a
  blackhole or overflow_filter discards). The Go buckets' lifetimes run on the wall clock, and the harness reads
  results for about `WINDOW` seconds after the last pour, so only buckets whose lifetime (or counter duration)
  is within that window underflow (or overflow, counters) there; here event time moves on to the last event's
  time + `WINDOW`, and an underflow is counted as a result only for a scenario whose lifetime is within it.
  A `reprocess` overflow is poured back (the engine's inline mode does it). `in-buckets_state.json` (1.4.6) is
  CrowdSec's own bucket dump: its buckets are restored before the lines are poured.
- parsers: `parsers.yaml` lists parser files with their stage; every document of `test.yaml` is a set of input
  events (a Line and/or Meta, Parsed, Enriched, StrTime...) and expected events. Each event runs through the
  stages; the expected events are matched to the results in any order, on Stage (when given), Process,
  Whitelisted and the expected keys of Parsed, Meta and Enriched (values as Go's YAML reads them into strings).
  Patterns are the checkout's `config/patterns`, data files and GeoIP databases its fixtures' root.
  A fixture that needs the public DNS (reverse_dns) is reported apart: there is no network here; so is one that
  needs GeoIP databases its checkout lacks (1.4.6's CI downloaded them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synsec.assembly.build import ASN_MMDB, CITY_MMDB, EngineOptions, build_engine  # noqa: E402
from synsec.engine.buckets.state import BucketState  # noqa: E402
from synsec.engine.counters import COUNTERS  # noqa: E402
from synsec.engine.errors import SynsecError  # noqa: E402
from synsec.engine.model import Event, Line, StrMap  # noqa: E402

WINDOW = 3.0     # seconds the Go harness reads results after the last pour (1 s sleep, then two empty 1 s polls)
END_COUNTERS = ("canceled", "overflows_blackholed", "overflows_filtered")   # bucket ends without an alert
TEMPLATE = "{{.TestDirectory}}"
SOURCE_FIELDS = {"scope": "Scope", "value": "Value", "ip": "IP", "range": "Range", "as_number": "AsNumber",
                 "as_name": "AsName", "cn": "Cn", "latitude": "Latitude", "longitude": "Longitude"}


class Fixture:
    """One fixture directory's outcome."""

    def __init__(self, family: str, name: str):
        self.family, self.name = family, name
        self.passed = False
        self.skipped = ""          # why it could not run here
        self.cause = ""            # a short name for why it failed (the grouping key)
        self.detail = ""           # what differed

    def fail(self, cause: str, detail: str) -> "Fixture":
        self.cause, self.detail = cause, detail
        return self

    def to_dict(self) -> dict:
        return {"family": self.family, "name": self.name, "passed": self.passed, "skipped": self.skipped,
                "cause": self.cause, "detail": self.detail}


def _ci(d: dict, key: str, default=None):
    """A JSON/YAML key as Go's decoders find struct fields: case-insensitively."""
    if not isinstance(d, dict):
        return default
    if key in d:
        return d[key]
    low = key.lower()
    for k, v in d.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return default


def _go_text(value) -> str:
    """A scalar as Go reads it into a string field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strmap(d) -> StrMap:
    return StrMap({str(k): _go_text(v) for k, v in (d or {}).items()})


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _stagefiles(path: Path, fixture: Path) -> list[dict]:
    """`scenarios.yaml` / `parsers.yaml`: the list of {filename, stage}, the template variable filled in."""
    text = path.read_text(encoding="utf-8").replace(TEMPLATE, str(fixture))
    return yaml.safe_load(text) or []


def _link(dst_dir: Path, idx: int, src: str) -> None:
    """Link a content file into the temporary config dir, keeping the listed order (files load by name)."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    (dst_dir / f"{idx:03d}-{Path(src).name}").symlink_to(Path(src).resolve())


def _engine(tmp: Path, data_dir: Path, patterns: Path, **geo):
    return build_engine(EngineOptions(config_dir=tmp, data_dirs=(data_dir,), pattern_dirs=(patterns,),
                                      dns_server="off", **geo))[0]


def _load_error(err: Exception) -> str:
    return str(err).strip().splitlines()[-1][:200]


# --- buckets ---------------------------------------------------------------------------------------------------

def _bucket_event(d: dict) -> Event:
    line = _ci(d, "Line") or {}
    evt = Event(Line(_ci(line, "Raw", "") or "", Src=_ci(line, "Src", "") or "", Labels=_strmap(_ci(line, "Labels"))))
    evt.Meta, evt.Parsed, evt.Enriched = (_strmap(_ci(d, k)) for k in ("Meta", "Parsed", "Enriched"))
    evt.MarshaledTime = _ci(d, "MarshaledTime", "") or ""
    evt.StrTime = _ci(d, "StrTime", "") or ""
    evt.ts = _time(evt.MarshaledTime) if evt.MarshaledTime else 0.0
    return evt


def _restore_state(engine, path: Path) -> None:
    """CrowdSec's bucket dump (1.4.6 `DumpBucketsStateAt`) as synsec bucket states: the limiter's tokens at `Last`
    give the token bucket's full-again time, the queue its kept events (their distinct values re-read)."""
    mgr = engine.buckets
    for entry in json.loads(path.read_text(encoding="utf-8")).values():
        spec = next(s for s in mgr.specs.values() if s.name == entry["Name"])
        events = [_bucket_event(e) for e in entry["Queue"]["Queue"]]
        key = spec.groupby(events[-1]) if spec.groupby is not None else ""
        lim = entry["SerializedState"]
        last = _time(lim["Last"])
        tat = last + (spec.capacity - lim["Tokens"]) * spec.leakspeed
        queue = tuple((e.ts, e.Meta, (("Ip", e.Meta["source_ip"], e.Meta["source_ip"], "", "", "", "", 0.0, 0.0),),
                       (dict(e.Parsed), dict(e.Enriched)) if spec.keep_full else None) for e in events)
        distinct = frozenset(spec.distinct(e) for e in events) if spec.distinct is not None else frozenset()
        state = BucketState(_time(entry["First_ts"]), _time(entry["Last_ts"]), tat, entry["Total_count"], queue,
                            distinct)
        mgr.buckets[(spec.id, key)] = state
        mgr._schedule((spec.id, key), spec, state)


def _overflows(alerts: list) -> list[tuple]:
    """synsec's alerts (one per source) back into CrowdSec's overflows (one per bucket, all its sources):
    (scenario, events_count, {value: source fields}). An overflow's alerts come together, one per source."""
    out: list = []
    last = None
    for a in alerts:
        ident = (a.Scenario, a.EventsCount, a.StartAt, a.StopAt)
        if ident != last or a.Source.Value in out[-1][2]:
            out.append((a.Scenario, a.EventsCount, {}))
            last = ident
        out[-1][2][a.Source.Value] = {k: getattr(a.Source, attr) for k, attr in SOURCE_FIELDS.items()}
    return out


def _expected_source(d: dict) -> dict:
    out = {}
    for k, attr in SOURCE_FIELDS.items():
        v = _ci(d, k)
        out[k] = float(v or 0) if k in ("latitude", "longitude") else _go_text(v)
    return out


def _normal_source(fields: dict) -> dict:
    return {k: float(v or 0) if k in ("latitude", "longitude") else _go_text(v) for k, v in fields.items()}


def run_bucket_fixture(fixture: Path, data_root: Path, patterns: Path) -> Fixture:
    res = Fixture("leakybucket", fixture.name)
    with tempfile.TemporaryDirectory() as tmp:
        for idx, entry in enumerate(_stagefiles(fixture / "scenarios.yaml", fixture)):
            _link(Path(tmp) / "scenarios", idx, entry["filename"])
        try:
            engine = _engine(Path(tmp), data_root, patterns)
        except SynsecError as err:
            return res.fail("load error", _load_error(err))
    test = json.loads((fixture / "test.json").read_text(encoding="utf-8"))
    if (fixture / "in-buckets_state.json").is_file():
        _restore_state(engine, fixture / "in-buckets_state.json")
    alerts, latest = [], 0.0
    for line in test.get("lines") or []:
        evt = _bucket_event(line)
        latest = max(latest, evt.ts)
        alerts += engine.pour(evt).alerts
    alerts += engine.advance(latest + WINDOW).alerts
    got = _overflows(alerts)
    counts = engine.counts
    ends = sum(counts.total(n) for n in END_COUNTERS if n in {c.name for c in COUNTERS})
    lifetimes = {s.id: s.lifetime for s in engine.buckets.specs.values() if not s.timed_overflow}
    ends += sum(n for (sid,), n in counts.by("underflows").items() if lifetimes.get(sid, WINDOW + 1) <= WINDOW)
    expected, expected_ends = [], 0
    for r in test.get("results") or []:
        ovf = _ci(r, "Alert") or {}
        inner = _ci(ovf, "Alert")
        if not inner:
            expected_ends += 1
            continue
        sources = {k: _expected_source(v) for k, v in (_ci(ovf, "Sources") or {}).items()}
        expected.append((_ci(inner, "scenario"), _ci(inner, "events_count"), sources))
    left = [(s, n, {k: _normal_source(v) for k, v in src.items()}) for s, n, src in got]
    missing = []
    for exp in expected:
        if exp in left:
            left.remove(exp)
        else:
            missing.append(exp)
    if missing or left:
        cause = "overflow sources differ" if (missing and left and [m[:2] for m in missing] == [x[:2] for x in left]) \
            else "overflows differ"
        return res.fail(cause, f"missing {_show(missing)}; unexpected {_show(left)}")
    if ends != expected_ends:
        return res.fail("bucket ends without alert (underflow, cancel_on, discarded overflow) differ",
                        f"got {ends}, expected {expected_ends}")
    res.passed = True
    return res


def _show(ovfs: list) -> str:
    return "[" + ", ".join(f"{s} x{n} {json.dumps(src, sort_keys=True)}" for s, n, src in ovfs) + "]"


# --- parsers ---------------------------------------------------------------------------------------------------

def _parser_event(d: dict) -> Event:
    line = _ci(d, "Line") or {}
    evt = Event(Line(_ci(line, "Raw", "") or "", Src=_ci(line, "Src", "") or "", Labels=_strmap(_ci(line, "Labels"))))
    evt.Meta, evt.Parsed, evt.Enriched = (_strmap(_ci(d, k)) for k in ("Meta", "Parsed", "Enriched"))
    evt.StrTime = _go_text(_ci(d, "StrTime"))
    evt.MarshaledTime = _go_text(_ci(d, "MarshaledTime"))
    evt.Stage = _go_text(_ci(d, "Stage"))
    return evt


def _match(exp: dict, out: Event) -> str:
    """CrowdSec's matchEvent: "" when `out` matches the expected event, else the first difference."""
    stage = _go_text(_ci(exp, "Stage"))
    if stage and stage != out.Stage:
        return f"Stage {out.Stage} != {stage}"
    if (_go_text(_ci(exp, "Process")) == "true") != out.Process:
        return f"Process {out.Process}"
    if (_go_text(_ci(exp, "Whitelisted")) == "true") != out.Whitelisted:
        return f"Whitelisted {out.Whitelisted}"
    for name in ("Parsed", "Meta", "Enriched"):
        have = getattr(out, name)
        for key, value in (_ci(exp, name) or {}).items():
            if key not in have:
                return f"{name}[{key}] missing"
            if have[key] != _go_text(value):
                return f"{name}[{key}] {have[key]!r} != {_go_text(value)!r}"
    return ""


def run_parser_fixture(fixture: Path, data_root: Path, patterns: Path) -> Fixture:
    res = Fixture("parser", fixture.name)
    texts = " ".join(p.read_text(encoding="utf-8", errors="replace") for p in fixture.glob("*.yaml"))
    if "reverse_dns" in texts:
        res.skipped = "needs the public DNS (reverse_dns of public addresses); no network here"
        return res
    geo = {"geoip_city": data_root / CITY_MMDB if (data_root / CITY_MMDB).is_file() else None,
           "geoip_asn": data_root / ASN_MMDB if (data_root / ASN_MMDB).is_file() else None}
    if "GeoIp" in texts and None in geo.values():
        res.skipped = f"needs {CITY_MMDB} and {ASN_MMDB} beside the fixtures (1.4.6 fetched them in its CI)"
        return res
    with tempfile.TemporaryDirectory() as tmp:
        for idx, entry in enumerate(_stagefiles(fixture / "parsers.yaml", fixture)):
            _link(Path(tmp) / "parsers" / entry["stage"], idx, entry["filename"])
        try:
            engine = _engine(Path(tmp), data_root, patterns, **geo)
        except SynsecError as err:
            return res.fail("load error", _load_error(err))
    docs = list(yaml.load_all((fixture / "test.yaml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader))
    for doc in docs:
        if not doc:
            continue
        results = []
        for line in _ci(doc, "lines") or []:
            evt = _parser_event(line)
            evt.Process = engine.parsers.parse(evt, engine.ctx)
            results.append(evt)
        expected = list(_ci(doc, "results") or [])
        why = []
        for exp in list(expected):
            reasons = [(_match(exp, out), out) for out in results]
            hit = next((out for r, out in reasons if not r), None)
            if hit is None:
                why.append(reasons[0][0] if len(reasons) == 1 else min((r for r, _ in reasons), key=len, default="no result"))
                continue
            results.remove(hit)
            expected.remove(exp)
        if expected or results:
            kind = why[0].split("[")[0].split(" ")[0] if why else "extra result"
            return res.fail(f"parser result differs: {kind}", "; ".join(why) or f"{len(results)} leftover results")
    res.passed = True
    return res


# --- driver ----------------------------------------------------------------------------------------------------

def _first_dir(*dirs: Path) -> Path | None:
    return next((d for d in dirs if d.is_dir()), None)


def run(crowdsec: Path, only: str = "") -> list[Fixture]:
    patterns = crowdsec / "config" / "patterns"
    out = []
    for family, runner, sub in (("leakybucket", run_bucket_fixture, "pkg/leakybucket"),
                                ("parser", run_parser_fixture, "pkg/parser")):
        root = _first_dir(crowdsec / sub / "testdata", crowdsec / sub / "tests")
        if root is None:
            continue
        for fixture in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "hub"):
            if only and only not in fixture.name:
                continue
            try:
                out.append(runner(fixture, root, patterns))
            except Exception as err:      # a crash is a result too: named, grouped, never a traceback
                out.append(Fixture(family, fixture.name).fail(f"harness/engine crash: {type(err).__name__}",
                                                              str(err)[:200]))
    return out


def summarize(fixtures: list[Fixture]) -> dict:
    out = {}
    for family in ("leakybucket", "parser"):
        mine = [f for f in fixtures if f.family == family]
        ran = [f for f in mine if not f.skipped]
        out[family] = {"fixtures": len(mine), "ran": len(ran), "passed": sum(f.passed for f in ran),
                       "skipped": {f.name: f.skipped for f in mine if f.skipped},
                       "causes": dict(Counter(f.cause for f in ran if not f.passed).most_common())}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crowdsec", required=True, type=Path, help="a CrowdSec source checkout (pkg/, config/)")
    ap.add_argument("--only", default="", help="only the fixtures whose name contains this")
    ap.add_argument("--json", type=Path, help="write every fixture's outcome and the summary here")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per fixture")
    args = ap.parse_args(argv)
    if not (args.crowdsec / "pkg").is_dir():
        print(f"{args.crowdsec}: not a CrowdSec source checkout (no pkg/)", file=sys.stderr)
        return 2
    fixtures = run(args.crowdsec, args.only)
    summary = summarize(fixtures)
    for f in fixtures:
        if args.verbose:
            state = "SKIP" if f.skipped else "ok  " if f.passed else "FAIL"
            print(f"{state} {f.family}/{f.name}  {f.skipped or f.detail}")
    for family, s in summary.items():
        rate = 100 * s["passed"] / max(s["ran"], 1)
        print(f"{family}: {s['passed']}/{s['ran']} passed ({rate:.1f}%)"
              + (f", {len(s['skipped'])} not run here" if s["skipped"] else ""))
        for cause, n in s["causes"].items():
            print(f"  {n:3d}  {cause}: " + ", ".join(f.name for f in fixtures
                                                      if f.family == family and f.cause == cause))
        for name, why in s["skipped"].items():
            print(f"  skip {name}: {why}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "fixtures": [f.to_dict() for f in fixtures]}, indent=2))
    return 0 if all(f.passed or f.skipped for f in fixtures) else 1


if __name__ == "__main__":
    sys.exit(main())
