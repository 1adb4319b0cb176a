"""Central's Kafka side against a scripted producer: a broker down at start, lost while serving, or hanging on a
send gives bounded JSON 503s with Retry-After where signals need it, never a 500; every other route serves from
the store; and the reconnect and the 5 s resend path (`SignalBus._ticks`) deliver every stored signal and cohort
change exactly once, in the order central received them. The same against real tansu:
tests/streams/test_central_broker_down.py."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from connectors.central.bus import COHORT_PREFIX, SignalBus
from connectors.central.curation import Curator
from connectors.central.rules import parse_rules
from connectors.central.server import Central, create_app
from connectors.central.store import CentralStore
from synsec.wire.kafka import BrokerSettings
from tests.unit.test_central import HUB, SECRET, sig
from topologies import load_topology

RULES = parse_rules("consensus: {min_reporters: 2, min_score: 0.9}\n")     # same /24: one cohort


class FakeBroker:
    """`state`: "off" (connections refused, acks fail), "hang" (a send never returns), "up" (acked)."""

    def __init__(self, state: str):
        self.state = state
        self.records: list[tuple[bytes, bytes | None, int | None]] = []     # what was acked, in order


class FakeProducer:
    def __init__(self, broker: FakeBroker):
        self.b = broker

    async def start(self) -> None:
        if self.b.state == "off":
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9, <AddressFamily.AF_INET: 2>)]")

    async def stop(self) -> None:
        return None

    async def send(self, topic, value=None, key=None, partition=None):
        if self.b.state == "hang":          # aiokafka waiting for metadata or for room in its buffer
            await asyncio.Event().wait()
        fut = asyncio.get_running_loop().create_future()
        if self.b.state == "up":
            fut.set_result(None)
            self.b.records.append((key, value, partition))
        else:                               # the batch expires unacked
            asyncio.get_running_loop().call_later(0.02, fut.set_exception, KafkaTimeoutError())
        return fut


async def _never() -> None:
    await asyncio.Event().wait()


def _central(tmp_path, broker: FakeBroker) -> tuple[Central, CentralStore]:
    store = CentralStore(tmp_path)
    bus = SignalBus(BrokerSettings.from_url("kafka://127.0.0.1:9"), load_topology("single"), store,
                    lambda: 1_800_000_000.0, tick=0.05, retry=0.05)
    bus.publish_timeout = 0.3
    bus.new_producer = lambda: FakeProducer(broker)
    bus._follow_once = _never           # no blocklist topic here
    bus.topics_checked = True           # nor an admin to create topics with
    return Central(store=store, secret=SECRET, curator=Curator(RULES, HUB), bus=bus), store


async def _until(pred, what: str, steps: int = 400) -> None:
    for _ in range(steps):
        if pred():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never: {what}")


async def _register(client, who: str) -> dict:
    cred = {"machine_id": who, "password": f"pw-{who}"}
    assert (await client.post("/v2/watchers", json=cred)).status == 201
    resp = await client.post("/v2/watchers/login", json=cred)
    assert resp.status == 200
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


def _signal_values(broker: FakeBroker) -> list[str]:
    return [key.decode() for key, value, _ in broker.records if value is not None and not key.startswith(b"cohort:")]


def test_a_broker_down_at_start_gives_503s_for_signals_only_and_everything_goes_once_it_is_reached(tmp_path):
    """Started with the broker refusing: health says so, register/login/stream/metrics answer, signals get a
    JSON 503 with Retry-After; once the broker answers, the stored cohort changes and signals go out once, the
    change of the second registration before the signal stored after it."""
    broker = FakeBroker("off")
    central, store = _central(tmp_path, broker)

    async def main():
        async with TestClient(TestServer(create_app(central))) as client:
            assert await (await client.get("/health")).json() == {"status": "up", "broker": "down"}
            h1 = await _register(client, "w1")
            await _register(client, "w2")           # same /24 as w1: a cohort change for the topology
            assert store.unpublished_cohorts()
            stream = await client.get("/v2/decisions/stream?startup=true", headers=h1)
            metrics = await client.post("/v2/metrics", json={"machines": []}, headers=h1)
            assert (stream.status, metrics.status) == (200, 201)
            refused = await client.post("/v2/signals", json=[sig(uuid="u1")], headers=h1)
            body = await refused.json()
            assert refused.status == 503 and refused.headers["Retry-After"] == "1"
            assert "stored but not yet published" in body["message"] and "has not been reached" in body["message"]
            resend = await client.post("/v2/signals", json=[sig(uuid="u1")], headers=h1)
            assert resend.status == 200             # the retrying client: stored already
            broker.state = "up"
            await _until(lambda: not store.unpublished() and not store.unpublished_cohorts(), "all published")
            assert await (await client.get("/health")).json() == {"status": "up", "broker": "up"}
    asyncio.run(main())
    store.close()
    cohorts = [i for i, (key, _, _) in enumerate(broker.records) if key.startswith(COHORT_PREFIX)]
    (signal_at,) = [i for i, (key, value, _) in enumerate(broker.records) if value and key == b"45.13.227.7"]
    assert cohorts and max(cohorts) < signal_at
    assert _signal_values(broker) == ["45.13.227.7"]


def test_the_resend_path_delivers_what_a_lost_or_hanging_broker_left_stored_exactly_once(tmp_path):
    """Connected, then acks fail (one batch) and then sends hang (another batch, and a registration): each batch
    gets its 503 within the publish bound, nobody resends, and when the broker is back the periodic resend
    delivers both batches and the cohort change once each and marks them published."""
    broker = FakeBroker("up")
    central, store = _central(tmp_path, broker)

    async def main():
        async with TestClient(TestServer(create_app(central))) as client:
            h1 = await _register(client, "w1")
            assert (await client.post("/v2/signals", json=[sig("45.13.227.1", uuid="a")], headers=h1)).status == 200
            broker.state = "off"
            lost = await client.post("/v2/signals", json=[sig("45.13.227.2", uuid="b")], headers=h1)
            assert lost.status == 503 and "Retry-After" in lost.headers
            broker.state = "hang"
            hung = await client.post("/v2/signals", json=[sig("45.13.227.3", uuid="c")], headers=h1)
            assert hung.status == 503 and "took no record" in (await hung.json())["message"]
            assert (await client.post("/v2/watchers", json={"machine_id": "w2", "password": "p"})).status == 201
            assert (await client.get("/health")).status == 200
            assert len(store.unpublished()) == 2 and store.unpublished_cohorts()
            broker.state = "up"
            await _until(lambda: not store.unpublished() and not store.unpublished_cohorts(), "the resend")
    asyncio.run(main())
    store.close()
    assert _signal_values(broker) == ["45.13.227.1", "45.13.227.2", "45.13.227.3"]
    cohorts = sorted(key for key, _, _ in broker.records if key.startswith(COHORT_PREFIX))
    assert cohorts == [b"cohort:w1", b"cohort:w2"] * load_topology("single").topics["signals"].partitions


ROUTES = [("POST", "/v2/watchers"), ("POST", "/v2/watchers/login"), ("POST", "/v2/signals"), ("POST", "/v3/signals"),
          ("GET", "/v2/decisions/stream"), ("GET", "/v3/decisions/stream"), ("POST", "/v2/metrics"),
          ("POST", "/v3/usage-metrics"), ("GET", "/v2/crowd/status"), ("GET", "/v2/crowd/explain"), ("GET", "/health"),
          ("POST", "/v3/watchers/reset"), ("POST", "/v2/watchers/enroll")]


def _body(rnd, who: str):
    """A body of one of the shapes the routes take, good or broken."""
    return rnd.choice([
        {"machine_id": who, "password": f"pw-{who}"}, {"machine_id": who, "password": "wrong"},
        [sig(f"45.13.{rnd.randrange(256)}.{rnd.randrange(1, 255)}", uuid=f"u{rnd.randrange(40)}")
         for _ in range(rnd.randrange(1, 4))],
        [sig("10.0.0.1")], [sig("1.2.3")], {"machines": []}, [], {}, None, "x" * rnd.randrange(50), [[[]]],
        {"machine_id": who * 200, "password": ""}, [sig(source={"scope": "Ip"})]])


def test_any_request_in_any_broker_state_is_answered_without_a_500_and_what_was_accepted_goes_out_once(tmp_path):
    """300 requests (seeded) over every route — good and broken bodies, with and without a token — while the
    broker switches between up, off and hanging: every answer is JSON and none is a 500; a 503 comes only from
    the signals routes, with Retry-After; once the broker stays up, every stored signal is acked exactly once."""
    import random

    rnd = random.Random(12)
    broker = FakeBroker("up")
    central, store = _central(tmp_path, broker)
    central.bus.publish_timeout = 0.05

    async def main():
        statuses = {}
        async with TestClient(TestServer(create_app(central))) as client:
            tokens = {who: await _register(client, who) for who in ("w1", "w2")}
            for i in range(300):
                if i % 25 == 0:
                    broker.state = rnd.choice(["up", "off", "hang"])
                method, path = rnd.choice(ROUTES)
                who = rnd.choice(["w1", "w2", "w3"])
                query = rnd.choice(["", "?startup=true", "?startup=maybe", "?ip=45.13.1.1", "?ip=x", "?bad=1"])
                headers = tokens.get(who, {}) if rnd.random() < 0.8 else {"Authorization": "Bearer x.y.z"}
                body = _body(rnd, who) if method == "POST" else None
                resp = await client.request(method, path + query, json=body, headers=headers)
                payload = await resp.json()
                assert resp.status != 500 and isinstance(payload, dict), (method, path, resp.status, payload)
                if resp.status == 503:
                    assert path.endswith("/signals") and resp.headers["Retry-After"] and payload["message"]
                if path.endswith("/login") and resp.status == 200:
                    tokens[who] = {"Authorization": f"Bearer {payload['token']}"}
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
            broker.state = "up"
            await _until(lambda: not store.unpublished() and not store.unpublished_cohorts(), "all published")
        return statuses
    statuses = asyncio.run(main())
    sent = [key for key, value, _ in broker.records if value is not None and not key.startswith(COHORT_PREFIX)]
    stored = [s["value"] for s in store.signals() if s["scope"] == "Ip"]
    store.close()
    assert statuses.get(503) and statuses.get(200) and statuses.get(400)
    assert sorted(v.decode() for v in sent) == sorted(stored)


def test_a_v2_batch_without_uuids_resent_after_a_503_is_stored_and_published_once(tmp_path):
    """CrowdSec 1.4.6 sends no uuid: its batch answered 503 (broker down) and sent again is dropped as a resend
    by its content (200), so the store and the topic hold each signal once; a signal differing only in its
    created time is another signal."""
    broker = FakeBroker("off")
    central, store = _central(tmp_path, broker)
    batch = [sig("45.13.227.7", created_at="2026-11-22T10:01:06Z"), sig("45.13.227.8", events_count=3)]

    async def main():
        async with TestClient(TestServer(create_app(central))) as client:
            h1 = await _register(client, "w1")
            assert (await client.post("/v2/signals", json=batch, headers=h1)).status == 503
            assert (await client.post("/v2/signals", json=batch, headers=h1)).status == 200
            broker.state = "up"
            await _until(lambda: not store.unpublished(), "all published")
            again = [sig("45.13.227.7", created_at="2026-11-22T10:01:07Z")]
            assert (await client.post("/v2/signals", json=again, headers=h1)).status == 200
    asyncio.run(main())
    store.close()
    assert [s["value"] for s in CentralStore(tmp_path).signals()] == ["45.13.227.7", "45.13.227.8", "45.13.227.7"]
    assert _signal_values(broker) == ["45.13.227.7", "45.13.227.8", "45.13.227.7"]


def test_a_time_marker_goes_after_the_signals_received_before_it(tmp_path):
    """The 5 s flush that marks the time sends the stored signals first and the markers after them, at the time the
    flush began: a signal received in one minute never reaches a partition behind a marker of the next (the topology
    would apply it late, with the next minute's trust, unlike the in-process curation)."""
    from connectors.central.bus import TICK_PREFIX
    from connectors.central.curation import epoch_of
    from connectors.central.signals import Signal

    broker, clock = FakeBroker("up"), [1_800_000_059.5]
    store = CentralStore(tmp_path)
    bus = SignalBus(BrokerSettings.from_url("kafka://127.0.0.1:9"), load_topology("default"), store, lambda: clock[0])
    bus.producer = FakeProducer(broker)
    store.add_signals("w1", [Signal("w1", "crowdsecurity/ssh-bf", "c" * 64, "0.1", "Ip", f"45.0.0.{i}", "", "", "", 1)
                             for i in range(8)], clock[0], "w1", [False] * 8)
    clock[0] += 1.0                                         # the tick comes in the next minute
    asyncio.run(bus.flush(mark=True))
    marked: dict[int, int] = {}             # partition -> epoch of its last marker (each goes to every partition)
    seen = 0
    for key, value, partition in broker.records:
        if key.startswith(TICK_PREFIX):
            marked[partition] = max(marked.get(partition, -1), epoch_of(float(key[len(TICK_PREFIX):])))
        elif value is not None:
            seen += 1
            assert max(marked.values(), default=-1) <= epoch_of(1_800_000_059.5), (key, marked)
    assert seen == 8 and len(marked) == 4 and min(marked.values()) == epoch_of(clock[0])


def test_a_blocklist_record_that_is_not_one_is_skipped_not_applied():
    """The blocklist topic's records as central's follower reads them: garbage keys and values are skipped
    (None, logged), a listing and a tombstone become the store's changes."""
    from connectors.central.bus import _change
    from connectors.central.curation import Listed, Removed

    for key, value in ((None, b"{}"), (b"Range:1.2.3.0/24", b"{}"), (b"\xff\xfe", None), (b"Ip:1.2.3.4", b"not json"),
                       (b"Ip:1.2.3.4", b'{"value": "1.2.3.4"}'), (b"Ip:1.2.3.4", b'{"value": "x", "scenario": "s",'
                                                                                   b' "until": "soon"}'),
                       (b"Ip:1.2.3.4", b"[1, 2]"), (b"Ip:1.2.3.4", b"\xff" * 10)):
        assert _change(key, value) is None, (key, value)
    assert _change(b"Ip:1.2.3.4", None) == Removed("1.2.3.4")
    assert _change(b"Ip:1.2.3.4", b'{"value": "1.2.3.4", "scenario": "a/b", "until": 5}') == Listed(
        "1.2.3.4", "a/b", 5.0, False)
