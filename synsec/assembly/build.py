"""Assemble an Engine from loaded content: the one place where the shell wires the pure pieces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synsec.content.loader import Content, default_content_dir, load_content
from synsec.engine.enrichers import ENRICHERS, EnrichContext
from synsec.engine.parser import ParseContext
from synsec.engine.pipeline import Engine
from synsec.engine.profiles import ProfileEngine

__all__ = ["EngineOptions", "build_engine", "open_mmdb"]


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


def open_mmdb(path: Path | None):
    if path is None:
        return None
    import maxminddb

    return maxminddb.open_database(str(path))


def build_engine(opts: EngineOptions, content: Content | None = None) -> tuple[Engine, Content]:
    from synsec.engine.buckets import BucketManager

    if content is None:
        content = load_content(opts.config_dir or default_content_dir(), data_dirs=list(opts.data_dirs),
                               pattern_dirs=list(opts.pattern_dirs), grok_engine=opts.grok_engine)
    enrich = EnrichContext(reference_year=opts.reference_year, city_db=open_mmdb(opts.geoip_city),
                           asn_db=open_mmdb(opts.geoip_asn))
    ctx = ParseContext(enrichers=ENRICHERS, enrich_ctx=enrich, expr_ctx=content.expr_ctx)
    profiles = ProfileEngine(tuple(content.profiles), content.simulation, content.allowlist, origin=opts.origin)
    engine = Engine(content.parsers, BucketManager(content.scenarios), content.postoverflows, profiles, ctx)
    return engine, content
