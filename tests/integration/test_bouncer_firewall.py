"""The firewall bouncer against the real kernel, inside a network namespace each test creates and deletes (the
host's rules are never touched), fed by a real broker: decisions appear as set elements with timeouts, and
tombstones remove them. Skipped with the reason when this kernel or user may not create a namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid

import pytest

from connectors.kafka.follower import DecisionFollower
from connectors.bouncers.firewall import FirewallBouncer, IpsetBackend, NftablesBackend, subprocess_runner
from tests.integration.test_bouncer_nginx import TOPIC, wait_until
from tests.integration.test_bouncer_nginx import topic  # noqa: F401  (the module-scoped broker fixture)

pytestmark = pytest.mark.integration


def _netns_reason() -> str | None:
    if not shutil.which("ip"):
        return "iproute2 (`ip`) is not installed"
    probe = f"synsec-probe-{uuid.uuid4().hex[:8]}"
    res = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if res.returncode != 0:
        return f"cannot create a network namespace here: {res.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@pytest.fixture
def netns():
    """A fresh network namespace (name unique per test), deleted at teardown."""
    reason = _netns_reason()
    if reason:
        pytest.skip(reason)
    name = f"synsec-t{os.getpid()}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def in_ns(ns: str, *cmd: str) -> str:
    res = subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, res.stderr
    return res.stdout


def follow(topic, fw):
    stop = threading.Event()
    follower = DecisionFollower(topic.consumer_kwargs, TOPIC, poll_timeout_ms=50)
    fw.attach(follower)
    return stop, follower.start(stop), follower


@pytest.mark.parametrize("backend", [NftablesBackend(), IpsetBackend()], ids=["nftables", "ipset"])
def test_sets_follow_decisions_in_namespace(netns, topic, backend):
    """Bans (v4, v6, ranges) become set elements with timeouts in the namespace; tombstones delete them."""
    tool = "nft" if backend.name == "nftables" else "ipset"
    if not shutil.which(tool):
        pytest.fail(f"{tool} is not installed (scripts/apt-packages.txt)")
    fw = FirewallBouncer(backend, subprocess_runner(["ip", "netns", "exec", netns]))
    fw.setup()
    tag = backend.name[:2]                      # distinct values per parametrisation on the shared topic
    v4 = "192.0.2.17" if tag == "nf" else "192.0.2.27"
    v6 = "2001:db8::17" if tag == "nf" else "2001:db8::27"
    rng = "198.51.100.0/24" if tag == "nf" else "203.0.113.0/24"
    stop, thread, follower = follow(topic, fw)
    try:
        topic.ban(v4)
        topic.ban(v6, seconds=600)
        topic.ban(rng, scope="Range")

        def listing():
            return in_ns(netns, *backend.list_command(4, False)) + in_ns(netns, *backend.list_command(6, False)) \
                + in_ns(netns, *backend.list_command(4, True))

        out, _ = wait_until(lambda: (lambda s: s if all(x in s for x in (v4, v6, rng)) else None)(listing()),
                            "the elements in the namespace's sets")
        assert "timeout" in out
        topic.tombstone(v4)
        topic.tombstone(rng, scope="Range")
        wait_until(lambda: v4 not in listing() and rng not in listing(), "the elements to be deleted")
        assert v6 in listing() and fw.stats["failed"] == 0
    finally:
        stop.set()
        thread.join(timeout=5)


def test_nft_drop_rule_is_in_namespace_only(netns):
    """Setup installs the drop chain in the namespace; the host namespace has no synsec table afterwards."""
    fw = FirewallBouncer(NftablesBackend(), subprocess_runner(["ip", "netns", "exec", netns]))
    fw.setup()
    ruleset = in_ns(netns, "nft", "list", "table", "inet", "synsec")
    assert "ip saddr @blocklist4 counter packets 0 bytes 0 drop" in ruleset
    host = subprocess.run(["nft", "list", "table", "inet", "synsec"], capture_output=True, text=True)
    assert host.returncode != 0
    fw.teardown()
    gone = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "synsec"],
                          capture_output=True, text=True)
    assert gone.returncode != 0


def test_nft_nested_ranges_apply_without_errors(netns):
    """Overlapping Range decisions never make nft reject a batch: the outer one is in the set, then the inner."""
    from synsec.engine.model import Decision
    import time

    fw = FirewallBouncer(NftablesBackend(), subprocess_runner(["ip", "netns", "exec", netns]))
    fw.setup()
    now = time.time()
    for value in ("10.1.0.0/16", "10.0.0.0/8", "10.2.0.0/16"):
        fw.on_add(Decision("synsec", "s", "Range", value, "ban", 3600, now + 3600))
    fw.flush()
    out = in_ns(netns, "nft", "list", "set", "inet", "synsec", "rangelist4")
    assert "10.0.0.0/8" in out and "10.1.0.0/16" not in out and fw.stats["failed"] == 0
    fw.on_delete("Range", "10.0.0.0/8", Decision("synsec", "s", "Range", "10.0.0.0/8", "ban", 3600, now + 3600))
    fw.flush()
    out = in_ns(netns, "nft", "list", "set", "inet", "synsec", "rangelist4")
    assert "10.1.0.0/16" in out and "10.2.0.0/16" in out and "10.0.0.0/8" not in out
    assert fw.stats["failed"] == 0
