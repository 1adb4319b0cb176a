"""Regenerate the known-good range files from their upstreams' published formats (docs/crowd.md, "Refreshing").

`knowngood/sources.yaml` says, for each file, what it is (`about`) and its sources: a URL, the format the
upstream publishes there, and the label its ranges get. Formats: `ipranges-json` (Google's googlebot.json,
Bing's bingbot.json: `{"creationTime", "prefixes": [{"ipv4Prefix"|"ipv6Prefix"}]}`), `cidr-lines` (Cloudflare's
ips-v4 / ips-v6: one range a line), `fastly-json` (`{"addresses", "ipv6_addresses"}`), `iana-special-csv` (the
IANA special-purpose registries' CSV: every block not globally reachable, labelled with its name) and `listed`
(no machine-readable upstream: the addresses are in the manifest, copied from the operator's page). Nothing here
downloads: the inputs are local files (`scripts/refresh_knowngood.py`). Bad input is a LoadError naming the
input file, its line (or JSON path) and the field.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synsec.content.spec import Doc, check_keys, get_list, get_str
from synsec.content.yamlload import load_documents, read_content_file
from synsec.engine.errors import ErrorCollector, LoadError, Where

__all__ = ["Source", "KnownGoodFile", "load_manifest", "parse_source", "render", "FORMATS", "MANIFEST"]

MANIFEST = Path(__file__).resolve().parent / "knowngood" / "sources.yaml"
_FOOTNOTE = re.compile(r"\s*\[\d+\]")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Source:
    url: str
    format: str
    label: str
    addresses: tuple[str, ...] = ()     # `listed` only


@dataclass(frozen=True)
class KnownGoodFile:
    name: str
    about: str
    sources: tuple[Source, ...]


def _network(text: str, where: Where) -> Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as err:
        raise LoadError(where, f"{text.strip()[:60]!r} is not an address or CIDR range: {err}") from None


def _json(text: str, path: str) -> object:
    try:
        return json.loads(text)
    except ValueError as err:
        raise LoadError(Where(path, getattr(err, "lineno", 1), "(file)"), f"invalid JSON: {err}") from None


def _ipranges_json(text: str, path: str, label: str) -> list[tuple[Network, str]]:
    data = _json(text, path)
    prefixes = data.get("prefixes") if isinstance(data, dict) else None
    if not isinstance(prefixes, list):
        raise LoadError(Where(path, 1, "prefixes"), "expected an object with a list `prefixes`")
    out = []
    for i, item in enumerate(prefixes):
        where = Where(path, 1, f"prefixes[{i}]")
        value = item.get("ipv4Prefix") or item.get("ipv6Prefix") if isinstance(item, dict) else None
        if not isinstance(value, str):
            raise LoadError(where, "expected {\"ipv4Prefix\": …} or {\"ipv6Prefix\": …}")
        out.append((_network(value, where), label))
    return out


def _cidr_lines(text: str, path: str, label: str) -> list[tuple[Network, str]]:
    return [(_network(line, Where(path, n, "range")), label) for n, raw in enumerate(text.splitlines(), 1)
            if (line := raw.split("#", 1)[0].strip())]


def _fastly_json(text: str, path: str, label: str) -> list[tuple[Network, str]]:
    data = _json(text, path)
    if not isinstance(data, dict) or not isinstance(data.get("addresses"), list):
        raise LoadError(Where(path, 1, "addresses"), "expected an object with a list `addresses`")
    out = []
    for key in ("addresses", "ipv6_addresses"):
        for i, value in enumerate(data.get(key) or []):
            where = Where(path, 1, f"{key}[{i}]")
            if not isinstance(value, str):
                raise LoadError(where, "expected a CIDR range")
            out.append((_network(value, where), label))
    return out


def _iana_special_csv(text: str, path: str, label: str) -> list[tuple[Network, str]]:
    rows = csv.reader(io.StringIO(text))
    header = next(rows, [])
    need = ("Address Block", "Name", "Globally Reachable")
    if any(h not in header for h in need):
        raise LoadError(Where(path, 1, "(header)"), f"expected the registry's columns {', '.join(need)}")
    col = {h: header.index(h) for h in need}
    out = []
    for row in rows:
        n = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise LoadError(Where(path, n, "(row)"), f"expected {len(header)} columns, got {len(row)}")
        if _FOOTNOTE.sub("", row[col["Globally Reachable"]]).strip() == "True":
            continue
        name = " ".join(_FOOTNOTE.sub("", row[col["Name"]]).split()).strip("\"")
        for block in _FOOTNOTE.sub("", row[col["Address Block"]]).split(","):
            if block.strip():
                out.append((_network(block, Where(path, n, "Address Block")), f"{label}: {name}" if label else name))
    return out


FORMATS: dict[str, Callable[[str, str, str], list[tuple[Network, str]]]] = {
    "ipranges-json": _ipranges_json, "cidr-lines": _cidr_lines, "fastly-json": _fastly_json,
    "iana-special-csv": _iana_special_csv,
}


def parse_source(source: Source, path: Path | None) -> list[tuple[Network, str]]:
    """The (range, label) pairs of one source, read from its local copy `path` (None for `listed`)."""
    if source.format == "listed":       # checked when the manifest was loaded
        return [(ipaddress.ip_network(a), source.label) for a in source.addresses]
    return FORMATS[source.format](read_content_file(path), str(path), source.label)


def render(kg: KnownGoodFile, ranges: list[tuple[Network, str]], date: str, note: str) -> str:
    """The file's text: its `about`, `# source:` and `# updated:` headers, then the ranges, sorted, once each."""
    lines = [f"# {line}".rstrip() for line in kg.about.strip().splitlines()]
    lines.append(f"# source: {', '.join(s.url for s in kg.sources)}")
    lines.append(f"# updated: {date} ({note})")
    seen: dict[Network, str] = {}
    for net, label in ranges:
        seen.setdefault(net, label)
    for net in sorted(seen, key=lambda n: (n.version, n.network_address, n.prefixlen)):
        lines.append(f"{str(net):<24} {seen[net]}".rstrip())
    return "\n".join(lines) + "\n"


def load_manifest(path: Path = MANIFEST) -> list[KnownGoodFile]:
    """The manifest's files and sources; LoadErrors naming path:line: field for every error."""
    docs = list(load_documents(read_content_file(path), str(path)))
    errors = ErrorCollector()
    root = Doc(docs[0][1] if docs else {}, str(path), "", errors, docs[0][0] if docs else 1)
    out = []
    for name, value in root.data.items():
        doc = root.child(str(name), value)
        if not re.fullmatch(r"[a-z0-9-]+\.txt", str(name)):
            root.error(name, "expected a file name like cdn.txt")
        check_keys(doc, {"about", "sources"})
        sources = []
        for i, item in enumerate(get_list(doc, "sources")):
            sd = doc.item("sources", i, item)
            check_keys(sd, {"url", "format", "label", "addresses"})
            url, fmt = get_str(sd, "url", None, required=True), get_str(sd, "format", None, required=True)
            if fmt is not None and fmt not in FORMATS and fmt != "listed":
                sd.error("format", f"{fmt!r}: expected one of {', '.join([*FORMATS, 'listed'])}")
            addresses = get_list(sd, "addresses") if "addresses" in sd.data else []
            if (fmt == "listed") != bool(addresses):
                sd.error("addresses", "a `listed` source needs `addresses`, and only it has them")
            for j, a in enumerate(addresses):
                try:
                    _network(str(a), sd.item_where("addresses", j))
                except LoadError as err:
                    errors.add(err)
            sources.append(Source(url or "", fmt or "", get_str(sd, "label", "") or "",
                                  tuple(str(a) for a in addresses)))
        if not sources:
            doc.error("sources", "expected at least one source")
        out.append(KnownGoodFile(str(name), get_str(doc, "about", "") or "", tuple(sources)))
    errors.raise_if_any()
    return out
