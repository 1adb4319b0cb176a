"""`curation.yaml` and the known-good range files → frozen curation rules; strict keys, `path:line: field` errors.

The shipped defaults are connectors/central/curation.yaml; docs/crowd.md says why each value is what it is.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from synsec.content.spec import Doc, check_keys, get_bool, get_float, get_int, get_list, get_map, get_str
from synsec.content.yamlload import load_documents, read_content_file
from synsec.engine.durations import DurationError, parse_duration
from synsec.engine.errors import ErrorCollector, LoadError, Where

__all__ = ["Rules", "KnownGoodRange", "load_rules", "parse_rules", "read_known_good", "DEFAULT_RULES",
           "KNOWN_GOOD_DIR", "BEHAVIOURS", "SHIPPED_KNOWN_GOOD"]

HERE = Path(__file__).resolve().parent
DEFAULT_RULES = HERE / "curation.yaml"
KNOWN_GOOD_DIR = HERE / "knowngood"
BEHAVIOURS = ("service", "scenario")
SHIPPED_KNOWN_GOOD = ("reserved.txt", "public-dns.txt", "cdn.txt", "search-crawlers.txt")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\b")


@dataclass(frozen=True)
class KnownGoodRange:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    label: str          # what the range is (the rest of its line)
    source: str         # file:line


@dataclass(frozen=True)
class Rules:
    window: float = 86400.0
    min_reporters: int = 3
    min_trust: float = 0.3
    min_score: float = 1.2
    behaviour: str = "service"
    prior_good: float = 1.0
    prior_bad: float = 1.0
    uncorroborated: float = 0.2
    known_good_weight: float = 1.0
    burst_max_reports: int = 2000
    burst_window: float = 3600.0
    burst_weight: float = 1.0
    same_block: bool = True
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    registration_burst_size: int = 10
    registration_burst_window: float = 600.0
    decay: float = 259200.0
    collusion_max_shared: int = 3
    collusion_min_share: float = 0.1
    collusion_window: float = 604800.0
    collusion_weight: float = 1.0
    hub_only: bool = True
    known_good: tuple[KnownGoodRange, ...] = ()

    @property
    def baseline(self) -> float:
        return self.prior_good / (self.prior_good + self.prior_bad)


def load_rules(path: str | Path | None = None) -> Rules:
    """The rules of `path` (default: the shipped curation.yaml); LoadErrors lists every error."""
    path = Path(path) if path else DEFAULT_RULES
    return parse_rules(read_content_file(path), str(path))


def _duration(doc: Doc, key: str, default: float, low: float) -> float:
    text = get_str(doc, key, None)
    if text is None:
        return default
    try:
        seconds = parse_duration(text)
    except DurationError as err:
        doc.error(key, str(err))
        return default
    if seconds < low:
        doc.error(key, f"{text!r} is shorter than {low:g}s")
        return default
    return seconds


def _number(doc: Doc, key: str, default: float, low: float, high: float) -> float:
    value = get_float(doc, key, default)
    if not low <= value <= high:
        doc.error(key, f"{value:g} is out of range [{low:g}, {high:g}]")
        return default
    return value


def _int(doc: Doc, key: str, default: int, low: int, high: int) -> int:
    value = get_int(doc, key, default)
    if value is None or not low <= value <= high:
        doc.error(key, f"{value} is out of range [{low}, {high}]")
        return default
    return value


def parse_rules(text: str, path: str = "<string>") -> Rules:
    docs = list(load_documents(text, path))
    if len(docs) > 1:
        raise LoadError(Where(path, docs[1][0]), "expected one YAML document")
    errors = ErrorCollector()
    doc = Doc(docs[0][1] if docs else {}, path, "", errors, docs[0][0] if docs else 1)
    check_keys(doc, {"consensus", "trust", "cohorts", "collusion", "decay", "hub_only", "known_good"})
    d = Rules()
    con = doc.child("consensus", get_map(doc, "consensus"))
    check_keys(con, {"window", "min_reporters", "min_trust", "min_score", "behaviour"})
    behaviour = get_str(con, "behaviour", d.behaviour) or d.behaviour
    if behaviour not in BEHAVIOURS:
        con.error("behaviour", f"{behaviour!r}: expected one of {', '.join(BEHAVIOURS)}")
    trust = doc.child("trust", get_map(doc, "trust"))
    check_keys(trust, {"prior_good", "prior_bad", "uncorroborated", "known_good", "burst"})
    burst = trust.child("burst", get_map(trust, "burst"))
    check_keys(burst, {"max_reports", "window", "weight"})
    coh = doc.child("cohorts", get_map(doc, "cohorts"))
    check_keys(coh, {"same_block", "ipv4_prefix", "ipv6_prefix", "burst_size", "burst_window"})
    col = doc.child("collusion", get_map(doc, "collusion"))
    check_keys(col, {"max_shared", "min_share", "window", "weight"})
    rules = Rules(
        window=_duration(con, "window", d.window, 60.0),
        min_reporters=_int(con, "min_reporters", d.min_reporters, 2, 1000),
        min_trust=_number(con, "min_trust", d.min_trust, 0.0, 1.0),
        min_score=_number(con, "min_score", d.min_score, 0.0, 1000.0),
        behaviour=behaviour if behaviour in BEHAVIOURS else d.behaviour,
        prior_good=_number(trust, "prior_good", d.prior_good, 0.01, 1e6),
        prior_bad=_number(trust, "prior_bad", d.prior_bad, 0.01, 1e6),
        uncorroborated=_number(trust, "uncorroborated", d.uncorroborated, 0.0, 1e6),
        known_good_weight=_number(trust, "known_good", d.known_good_weight, 0.0, 1e6),
        burst_max_reports=_int(burst, "max_reports", d.burst_max_reports, 1, 10 ** 9),
        burst_window=_duration(burst, "window", d.burst_window, 1.0),
        burst_weight=_number(burst, "weight", d.burst_weight, 0.0, 1e6),
        same_block=get_bool(coh, "same_block", d.same_block),
        ipv4_prefix=_int(coh, "ipv4_prefix", d.ipv4_prefix, 8, 32),
        ipv6_prefix=_int(coh, "ipv6_prefix", d.ipv6_prefix, 16, 128),
        registration_burst_size=_int(coh, "burst_size", d.registration_burst_size, 2, 10 ** 6),
        registration_burst_window=_duration(coh, "burst_window", d.registration_burst_window, 0.0),
        decay=_duration(doc, "decay", d.decay, 60.0),
        collusion_max_shared=_int(col, "max_shared", d.collusion_max_shared, 0, 10 ** 6),
        collusion_min_share=_number(col, "min_share", d.collusion_min_share, 0.0, 1.0),
        collusion_window=_duration(col, "window", d.collusion_window, 60.0),
        collusion_weight=_number(col, "weight", d.collusion_weight, 0.0, 1e6),
        hub_only=get_bool(doc, "hub_only", d.hub_only),
        known_good=_known_good(doc, Path(path).parent),
    )
    errors.raise_if_any()
    return rules


def _known_good(doc: Doc, base: Path) -> tuple[KnownGoodRange, ...]:
    out: list[KnownGoodRange] = []
    names = get_list(doc, "known_good") if "known_good" in doc.data else list(SHIPPED_KNOWN_GOOD)
    for i, name in enumerate(names):
        where = doc.item_where("known_good", i)
        if not isinstance(name, str) or not name:
            doc.errors.add(LoadError(where, "expected a file name"))
            continue
        path = Path(name) if Path(name).is_absolute() else base / name
        if not path.is_file() and not Path(name).is_absolute():
            path = KNOWN_GOOD_DIR / name
        try:
            out += read_known_good(path)
        except LoadError as err:
            doc.errors.add(err)
    return tuple(out)


def read_known_good(path: Path) -> list[KnownGoodRange]:
    """The ranges of one known-good file; LoadError (file:line) for a bad line or a missing header."""
    text = read_content_file(path)
    header: dict[str, int] = {}
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        for key in ("source", "updated"):
            if line.startswith(f"# {key}:"):
                header[key] = n
                if key == "updated" and not _DATE.match(line[len("# updated:"):].strip()):
                    raise LoadError(Where(str(path), n, "updated"), "expected a date YYYY-MM-DD")
        if not line or line.startswith("#"):
            continue
        cidr, _, label = line.partition(" ")
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as err:
            raise LoadError(Where(str(path), n, "range"), f"{cidr[:60]!r} is not an address or range: {err}") \
                from None
        out.append(KnownGoodRange(network, label.strip(), f"{path.name}:{n}"))
    for key in ("source", "updated"):
        if key not in header:
            raise LoadError(Where(str(path), 1, key), f"missing header line '# {key}: …'")
    return out
