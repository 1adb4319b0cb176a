"""Fixtures for tests against a real Kafka-protocol broker (tansu, started once per session on a free port).

A test that asks for `broker` must carry `@pytest.mark.integration` (or a module `pytestmark`): otherwise its
setup fails, so `-m "not integration"` really means "no servers".
"""

from __future__ import annotations

import itertools
import re

import pytest

from connectors.kafka.broker import LocalBroker
from synsec.wire.kafka import BrokerSettings
from topologies import Topology, load_topology

_SERVER_FIXTURES = ("broker",)   # item.fixturenames is transitive: broker_settings counts too
_counter = itertools.count(1)


def pytest_runtest_setup(item: pytest.Item) -> None:
    used = [name for name in _SERVER_FIXTURES if name in getattr(item, "fixturenames", ())]
    if used and item.get_closest_marker("integration") is None:
        pytest.fail(f"{item.nodeid} uses {', '.join(used)} (a real server) without @pytest.mark.integration",
                    pytrace=False)


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> LocalBroker:
    """tansu on 127.0.0.1:<free port>, memory storage, for the whole session; stopped by its PID at the end."""
    local = LocalBroker(log_dir=tmp_path_factory.mktemp("tansu")).start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def broker_settings(broker: LocalBroker) -> BrokerSettings:
    return BrokerSettings.from_url(broker.url)


@pytest.fixture
def unique_name(request):
    """unique_name("x") -> a topic-safe name unique in this session (the broker is shared by all tests)."""
    base = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60].strip("-")

    def make(suffix: str = "") -> str:
        return f"t{next(_counter)}-{base}{'-' + suffix if suffix else ''}"

    return make


@pytest.fixture
def fresh_topology(unique_name) -> Topology:
    """The default topology with every topic name and the app id prefixed for this test alone."""
    return load_topology("default").prefixed(unique_name() + ".")
