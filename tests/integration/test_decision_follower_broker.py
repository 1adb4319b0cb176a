"""The decisions topic's one follower against a real broker (tansu): a topic created after the follower started is
waited for (and said so in `error`), then read from its start; ready means every earlier record is known."""

from __future__ import annotations

import threading

import pytest

from connectors.kafka.follower import DecisionFollower
from synsec.wire.records import decision_to_record
from tests.integration.test_bouncer_nginx import wait_until
from tests.integration.test_bouncer_nginx import topic  # noqa: F401  (the module-scoped broker fixture)

pytestmark = pytest.mark.integration


def test_a_topic_created_later_is_waited_for_then_followed(topic):  # noqa: F811
    """Regression (issue 11): the API's view gave up on a missing topic after 30 s while bouncers waited; the
    one follower waits, reports it in `error`, and follows the topic once it exists."""
    from kafka.admin import KafkaAdminClient, NewTopic

    name = "synsec.decisions.later"
    follower = DecisionFollower(topic.consumer_kwargs, name, poll_timeout_ms=50)
    stop = threading.Event()
    thread = follower.start(stop)
    try:
        wait_until(lambda: "not found" in follower.error, "the follower to report the missing topic")
        assert not follower.ready.is_set()
        admin = KafkaAdminClient(bootstrap_servers=topic.broker.bootstrap)
        admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
        admin.close()
        d = topic.ban("192.0.2.77")
        topic.producer.send(name, key=b"Ip:192.0.2.77",
                            value=topic.codecs.encode("decision", decision_to_record(d))).get(timeout=10)
        wait_until(follower.ready.is_set, "the follower to catch up", timeout=20)
        wait_until(lambda: follower.is_banned("192.0.2.77"), "the ban on the new topic")
        assert follower.error == ""
    finally:
        stop.set()
        thread.join(timeout=5)

