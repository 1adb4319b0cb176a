"""scripts/refresh_knowngood.py (connectors/central/knowngood_sources.py): the known-good files regenerated from
local copies of their upstreams, in the formats those publish (small samples written here; no network)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from connectors.central.curation import KnownGood
from connectors.central.knowngood_sources import MANIFEST, load_manifest
from connectors.central.rules import SHIPPED_KNOWN_GOOD, load_rules, read_known_good
from synsec.engine.errors import LoadError, LoadErrors

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("refresh_knowngood", REPO / "scripts" / "refresh_knowngood.py")
refresh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refresh)

IANA_HEADER = ("Address Block,Name,RFC,Allocation Date,Termination Date,Source,Destination,Forwardable,"
               "Globally Reachable,Reserved-by-Protocol\n")
SAMPLES = {
    "googlebot.json": json.dumps({"creationTime": "2026-11-30T15:46:01.000000", "prefixes": [
        {"ipv6Prefix": "2001:4860:4801:10::/64"}, {"ipv4Prefix": "66.249.64.0/27"}]}),
    "bingbot.json": json.dumps({"creationTime": "2026-11-28T10:00:00", "prefixes": [{"ipv4Prefix": "157.55.39.0/24"}]}),
    "ips-v4": "173.245.48.0/20\n103.21.244.0/22\n",
    "ips-v6": "2400:cb00::/32\n",
    "public-ip-list": json.dumps({"addresses": ["151.101.0.0/16"], "ipv6_addresses": ["2a04:4e40::/32"]}),
    "iana-ipv4-special-registry-1.csv": IANA_HEADER
    + '10.0.0.0/8,Private-Use,[RFC1918],1996-02,N/A,True,True,True,False,False\n'
    + '192.0.0.0/24 [2],IETF Protocol Assignments,"[RFC6890], Section 2.1",2010-01,N/A,False,False,False,False,False\n'
    + '192.31.196.0/24,AS112-v4,[RFC7535],2014-12,N/A,True,True,True,True,False\n',
    "iana-ipv6-special-registry-1.csv": IANA_HEADER
    + "::1/128,Loopback Address,[RFC4291],2006-02,N/A,False,False,False,False,True\n"
    + "2001:1::1/128,Port Control Protocol Anycast,[RFC7723],2015-10,N/A,True,True,True,True,False\n"
    + 'fc00::/7,Unique-Local,"[RFC4193], [RFC8190]",2005-10,N/A,True,True,True,False [3],False\n',
}


@pytest.fixture
def inputs(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for name, text in SAMPLES.items():
        (d / name).write_text(text)
    return d


def _ranges(path: Path) -> dict[str, str]:
    return {str(r.network): r.label for r in read_known_good(path)}


def test_every_shipped_file_has_sources_in_the_manifest():
    """sources.yaml loads and describes exactly the shipped known-good files."""
    assert sorted(f.name for f in load_manifest(MANIFEST)) == sorted(SHIPPED_KNOWN_GOOD)


def test_files_are_regenerated_from_the_published_formats(inputs, tmp_path, capsys):
    """Each file gets its about text, a `# source:` line with the upstream URLs and the `# updated:` date, and the
    ranges of googlebot.json/bingbot.json, Cloudflare's ips-v4/v6, Fastly's list and the IANA registries (only
    blocks that are not globally reachable, footnotes dropped); central loads them and matches their addresses."""
    out = tmp_path / "out"
    assert refresh.main(["--inputs", str(inputs), "--out", str(out), "--date", "2026-12-01"]) == 0
    crawlers = (out / "search-crawlers.txt").read_text().splitlines()
    assert "# source: https://developers.google.com/static/search/apis/ipranges/googlebot.json, " \
           "https://www.bing.com/toolbox/bingbot.json" in crawlers
    assert any(line.startswith("# updated: 2026-12-01 ") for line in crawlers)
    assert _ranges(out / "search-crawlers.txt") == {"66.249.64.0/27": "Googlebot", "157.55.39.0/24": "Bingbot",
                                                    "2001:4860:4801:10::/64": "Googlebot"}
    assert _ranges(out / "cdn.txt") == {"103.21.244.0/22": "Cloudflare", "173.245.48.0/20": "Cloudflare",
                                        "151.101.0.0/16": "Fastly", "2400:cb00::/32": "Cloudflare",
                                        "2a04:4e40::/32": "Fastly"}
    assert _ranges(out / "reserved.txt") == {
        "10.0.0.0/8": "Private-Use", "192.0.0.0/24": "IETF Protocol Assignments",
        "224.0.0.0/4": "multicast (RFC 5771, RFC 4291)", "::1/128": "Loopback Address", "fc00::/7": "Unique-Local",
        "ff00::/8": "multicast (RFC 5771, RFC 4291)"}
    assert _ranges(out / "public-dns.txt")["9.9.9.9/32"] == "Quad9"
    (out / "curation.yaml").write_text("known_good: [reserved.txt, public-dns.txt, cdn.txt, search-crawlers.txt]\n")
    kg = KnownGood(load_rules(out / "curation.yaml").known_good)
    assert kg.contains("66.249.64.7") and kg.contains("151.101.3.3") and not kg.contains("66.249.64.40")
    assert "search-crawlers.txt: 3 ranges" in capsys.readouterr().out


@pytest.mark.parametrize("name, text, where", [
    ("googlebot.json", '{"prefixes": [{"ipv4Prefix": "66.249.64.0/27"}, {"ipv4Prefix": "66.249.64.1/27"}]}',
     "googlebot.json:1: prefixes[1]"),
    ("googlebot.json", '{"prefixes": ', "googlebot.json:1: (file)"),
    ("ips-v4", "173.245.48.0/20\nnot-a-range\n", "ips-v4:2: range"),
    ("public-ip-list", '{"ipv6_addresses": []}', "public-ip-list:1: addresses"),
    ("iana-ipv4-special-registry-1.csv", IANA_HEADER + "10.0.0.0/33,Private-Use,x,x,x,x,x,x,False,x\n",
     "iana-ipv4-special-registry-1.csv:2: Address Block"),
    ("iana-ipv6-special-registry-1.csv", "Block,Name\n", "iana-ipv6-special-registry-1.csv:1: (header)"),
])
def test_bad_input_is_named_and_nothing_is_written(inputs, tmp_path, capsys, name, text, where):
    """A malformed upstream file is an error naming the file, its line (or JSON path) and field; no file is
    written, not even the good ones."""
    (inputs / name).write_text(text)
    out = tmp_path / "out"
    assert refresh.main(["--inputs", str(inputs), "--out", str(out), "--date", "2026-12-01"]) == 1
    err = capsys.readouterr().err
    assert where in err.replace(str(inputs) + "/", "") and "nothing written" in err
    assert not out.exists()


def test_a_missing_source_copy_is_named(inputs, tmp_path, capsys):
    """A source without a local copy names its URL and where the copy was expected; --input names one."""
    (inputs / "ips-v6").rename(tmp_path / "v6.txt")
    out = tmp_path / "out"
    assert refresh.main(["--inputs", str(inputs), "--out", str(out), "cdn.txt"]) == 1
    assert "no local copy of https://www.cloudflare.com/ips-v6" in capsys.readouterr().err
    assert refresh.main(["--inputs", str(inputs), "--out", str(out), "--input",
                         f"https://www.cloudflare.com/ips-v6={tmp_path / 'v6.txt'}", "cdn.txt"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cdn.txt"]


def test_bad_manifest_names_path_line_and_field(tmp_path):
    """The manifest is strict: an unknown key or format names path:line: field."""
    bad = tmp_path / "sources.yaml"
    bad.write_text("cdn.txt:\n  sources:\n    - {url: x, format: html, label: y}\n    - {url: x, format: listed}\n")
    with pytest.raises((LoadError, LoadErrors)) as err:
        load_manifest(bad)
    text = str(err.value).replace(str(tmp_path) + "/", "")
    assert "sources.yaml:3: cdn.txt.sources[0].format" in text and "sources.yaml:4: cdn.txt.sources[1].addresses" in text
