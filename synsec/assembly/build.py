"""Assemble an Engine from loaded content: the one place where the shell wires the pure pieces."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from synsec.content.loader import Content, default_content_dir, load_content
from synsec.assembly.rdns import ReverseDNS, parse_dns_server
from synsec.engine.counters import CounterSet
from synsec.engine.enrichers import ENRICHERS, EnrichContext
from synsec.engine.errors import LoadError, Where
from synsec.engine.parser import ParseContext
from synsec.engine.pipeline import INLINE, SPLIT, Engine
from synsec.engine.profiles import ProfileEngine

__all__ = ["EngineOptions", "build_engine", "split_engine", "build_profiles", "open_mmdb", "find_data_file", "reverse_dns",
           "LIVE_RDNS_WAIT",
           "CITY_MMDB", "ASN_MMDB"]

# How long a live process (synsec run, the worker) holds an event for a reverse_dns miss (docs/enrichment.md).
LIVE_RDNS_WAIT = 0.25

# The names CrowdSec's geoip-enrich parser gives its databases in the data dir.
CITY_MMDB = "GeoLite2-City.mmdb"
ASN_MMDB = "GeoLite2-ASN.mmdb"


@dataclass(frozen=True)
class EngineOptions:
    config_dir: Path | None = None
    data_dirs: tuple = ()
    pattern_dirs: tuple = ()
    reference_year: int = 1970
    geoip_city: Path | None = None
    geoip_asn: Path | None = None
    origin: str = "synsec"
    grok_engine: str = "auto"       # "re2": every grok on RE2 (the reference engine), e.g. to rule ours out
    skip_missing_data: bool = False  # leave out items whose data file is missing (Content.skipped), as `synsec run`
    dns_server: str | None = None    # reverse_dns asks this IP:PORT; "off": no lookups (default: system resolver)
    rdns_timeout: float = 1.0        # seconds a reverse_dns lookup may take
    rdns_rate: float = 20.0          # reverse_dns lookups a second at most
    rdns_wait: float | None = None   # None (replay): an event waits for its lookup; S (live): S seconds at most
    rdns_fcrdns: bool = False        # keep a PTR name only when it resolves back to the IP (forward-confirmed)

    @classmethod
    def from_flags(cls, *, config_dir=None, data_dirs=(), pattern_dirs=(), geoip_city=None, geoip_asn=None,
                   reference_year: int = 1970, **rest) -> "EngineOptions":
        """Options from the engine flags every command shares (`synsec.cli.engine_options`). A GeoIP database
        no flag names is looked up by CrowdSec's file name in the data dirs, then in the content's `data/`."""
        config = Path(config_dir) if config_dir else None
        data = tuple(Path(d) for d in data_dirs)
        search = data + ((config or default_content_dir()) / "data",)
        return cls(config_dir=config, data_dirs=data, pattern_dirs=tuple(Path(d) for d in pattern_dirs),
                   reference_year=reference_year,
                   geoip_city=Path(geoip_city) if geoip_city else find_data_file(search, CITY_MMDB),
                   geoip_asn=Path(geoip_asn) if geoip_asn else find_data_file(search, ASN_MMDB), **rest)


def find_data_file(dirs, name: str) -> Path | None:
    """The first `dir/name` that is a file, or None."""
    for d in dirs:
        if (Path(d) / name).is_file():
            return Path(d) / name
    return None


def open_mmdb(path: Path | None):
    """A GeoIP/ASN database reader, None without a path; a file that is not a MaxMind DB is a LoadError."""
    if path is None:
        return None
    import maxminddb

    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as err:
        raise LoadError(Where(str(path), 1, "(file)"), f"not a readable MaxMind DB: {err}") from None


def reverse_dns(opts: EngineOptions, counts: CounterSet) -> ReverseDNS | None:
    """The reverse_dns enricher's resolver (None for `--dns-server off`: no lookups); a bad --dns-server is a
    LoadError. $SYNSEC_DNS_SERVER is the default of --dns-server."""
    given = opts.dns_server or os.environ.get("SYNSEC_DNS_SERVER")
    if given == "off":
        return None
    try:
        server = parse_dns_server(given) if given else None
    except ValueError as err:
        raise LoadError(Where("--dns-server ($SYNSEC_DNS_SERVER)"), str(err)) from None
    return ReverseDNS(counts, server=server, timeout=opts.rdns_timeout, rate=opts.rdns_rate, wait=opts.rdns_wait,
                      fcrdns=opts.rdns_fcrdns)


def build_engine(opts: EngineOptions, content: Content | None = None) -> tuple[Engine, Content]:
    """The engine of an in-process run: overflows handled `INLINE` (decided and reprocessed here)."""
    from synsec.engine.buckets import BucketManager

    if content is None:
        content = load_content(opts.config_dir or default_content_dir(), data_dirs=list(opts.data_dirs),
                               pattern_dirs=list(opts.pattern_dirs), grok_engine=opts.grok_engine,
                               skip_missing_data=opts.skip_missing_data)
    counts = CounterSet()     # the engine's one counter set: parser, enrichers, buckets, profiles, Engine
    enrich = EnrichContext(reference_year=opts.reference_year, city_db=open_mmdb(opts.geoip_city),
                           asn_db=open_mmdb(opts.geoip_asn), reverse_dns=reverse_dns(opts, counts), counts=counts)
    ctx = ParseContext(enrichers=ENRICHERS, enrich_ctx=enrich, expr_ctx=content.expr_ctx, counts=counts)
    profiles = build_profiles(opts, content, counts)
    engine = Engine(content.parsers, BucketManager(content.scenarios, counts=counts), content.postoverflows,
                    profiles, ctx, after=INLINE)
    return engine, content


def build_profiles(opts: EngineOptions, content: Content, counts: CounterSet | None = None) -> ProfileEngine:
    """The profiles of `content` (with its simulation and allowlist): what turns an alert into decisions, in an
    engine or alone (`synsec api`, for the alerts machines push). Its decision history is the one its expressions
    read (`content.expr_ctx.history`): its own decisions only until a caller sets `history.source` (a store)."""
    return ProfileEngine(tuple(content.profiles), content.simulation, content.allowlist, origin=opts.origin,
                         counts=CounterSet() if counts is None else counts, history=content.expr_ctx.history)


def split_engine(engine: Engine, buckets) -> Engine:
    """The topology's buckets agent's engine for one partition: `engine`'s content over `buckets` (that
    partition's manager), overflows handled `SPLIT` (decided by the profiles agent, reprocess routed again).
    It counts into `engine`'s counter set (one set per worker, whatever the partitions)."""
    return Engine(engine.parsers, buckets, engine.postoverflows, engine.profiles, engine.ctx, after=SPLIT)
