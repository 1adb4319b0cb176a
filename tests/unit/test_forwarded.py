"""The client address behind reverse proxies (connectors/api/forwarded.py): X-Forwarded-For walked right to left
through trusted hops only; a forged header from an untrusted peer is ignored."""

from __future__ import annotations

import pytest

from connectors.api.forwarded import TrustedProxies, parse_trusted_proxies

PROXIES = TrustedProxies(parse_trusted_proxies(["127.0.0.1, 10.0.0.0/8", "fd00::/8"]))


@pytest.mark.parametrize("peer, headers, client", [
    ("198.51.100.9", ["203.0.113.5"], "198.51.100.9"),               # untrusted peer: its header is forged
    ("127.0.0.1", [], "127.0.0.1"),                                   # a trusted proxy that says nothing
    ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
    ("127.0.0.1", ["6.6.6.6, 203.0.113.5"], "203.0.113.5"),           # the client's own forgery is left of it
    ("127.0.0.1", ["203.0.113.5, 10.1.2.3"], "203.0.113.5"),          # through a second trusted hop
    ("127.0.0.1", ["6.6.6.6", "203.0.113.5, 10.1.2.3"], "203.0.113.5"),   # several header lines, in order
    ("127.0.0.1", ["10.9.9.9, 10.1.2.3"], "10.9.9.9"),                # every hop trusted: the leftmost
    ("127.0.0.1", ["203.0.113.5, garbage"], "127.0.0.1"),             # unreadable: stop at the last trusted hop
    ("127.0.0.1", ["[2001:db8::7]"], "2001:db8::7"),
    ("fd00::1", ["::ffff:203.0.113.5"], "203.0.113.5"),               # IPv4-mapped: the IPv4 address
    (None, ["203.0.113.5"], None),
])
def test_client_is_the_first_untrusted_hop_from_the_right(peer, headers, client):
    """The peer is the client unless trusted; then X-Forwarded-For from the right, past trusted hops."""
    assert PROXIES.client(peer, headers) == client


def test_without_trusted_proxies_the_header_is_ignored():
    """No trusted proxies (the default): the TCP peer, whatever the header says."""
    assert TrustedProxies().client("127.0.0.1", ["203.0.113.5"]) == "127.0.0.1"


def test_a_bad_trusted_proxy_is_named():
    """A value that is not an address or CIDR range is an error naming it."""
    with pytest.raises(ValueError, match="'10.0.0.0/33'"):
        parse_trusted_proxies(["127.0.0.1,10.0.0.0/33"])


def test_central_refuses_a_bad_trusted_proxy_naming_it(tmp_path):
    """`synsec central --trusted-proxies` with a bad range is a usage error naming the value, not a traceback."""
    from click.testing import CliRunner

    from synsec.cli.central import central

    res = CliRunner().invoke(central, ["--state-dir", str(tmp_path), "--trusted-proxies", "127.0.0.1,nope/8"])
    assert res.exit_code == 2 and "'nope/8'" in res.output and "--trusted-proxies" in res.output
