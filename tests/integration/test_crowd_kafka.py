"""The crowd in Kafka mode with real components (the bundled tansu broker, `synsec central`, `synsec api
--broker`): the API shares the alerts topic's signals (never a private or simulated one) and publishes the
community blocklist on the decisions topic as origin=CAPI decisions, which it serves to bouncers; a local
decision on the same address is never replaced."""

from __future__ import annotations

import json
import time

import pytest

from connectors.crowd.client import CapiClient, register as capi_register
from connectors.crowd.credentials import Credentials
from connectors.crowd.kafka import TopicCTI
from connectors.crowd.share import shareable_scenarios
from synsec.engine.model import Alert, Decision, Source, format_ts
from synsec.hub.install import load_index
from tests.integration.test_api_http import ccs, http, running_api
from tests.integration.test_api_topic import broker, codecs, produce, read_topic  # noqa: F401 — fixtures
from tests.integration.test_crowd_e2e import (ATTACKER, OTHERS, PRIVATE, SCENARIO, Central, hub_config,  # noqa: F401
                                              queue_state, register, stack)
from tests.integration.test_run_live import wait_for

pytestmark = [pytest.mark.hub, pytest.mark.integration]

LOCAL = OTHERS[0]          # listed by central too, but this installation already bans it itself


def _alert(ip: str, uuid: str, now: float, simulated: bool = False) -> Alert:
    return Alert(Scenario=SCENARIO, Source=Source(Scope="Ip", Value=ip, IP=ip), EventsCount=11, StartAt=now - 6,
                 StopAt=now, Simulated=simulated, UUID=uuid)


def _produce_alerts(bootstrap: str, codecs, alerts: list[Alert]) -> None:  # noqa: F811
    from kafka import KafkaProducer

    from synsec.wire.records import alert_to_record

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for a in alerts:
            producer.send("synsec.alerts", key=a.Source.Value.encode(),
                          value=codecs.encode("alert", alert_to_record(a)))
        producer.flush(10)
    finally:
        producer.close()


def test_kafka_installation_shares_and_publishes_capi_decisions(tmp_path, hub_config, broker, codecs,  # noqa: F811
                                                                stack):
    """Alerts on synsec.alerts become signals (a private and a simulated one never); once a second reporter
    agrees, the blocklist entry lands on synsec.decisions with origin CAPI and is served by the same API; the
    address the installation already bans locally keeps its local decision; a worker's CrowdsecCTI (a follower of
the decisions topic) then finds the listed address in the community blocklist."""
    cfg, data = hub_config
    central = Central(tmp_path / "central", tmp_path / "central.log").start()
    stack.append(central)
    state = tmp_path / "k"
    register(state, central.url, "inst-k")
    key = ccs(state, "bouncers", "add", "fw", "-o", "raw").strip()
    bootstrap = broker.url.split("://", 1)[1]
    now = time.time()
    produce(bootstrap, codecs, [Decision(origin="synsec", scenario=SCENARIO, scope="Ip", value=LOCAL, type="ban",
                                         duration=14400, until=now + 14400, id="local-1")])
    args = ("--refresh-interval", "0.05", "--broker", broker.url, "--topology", "single", "--config-dir", str(cfg),
            "--data-dir", str(data), "--push-interval", "0.2", "--pull-interval", "1")
    with running_api(state, tmp_path / "api.log", args=args, start_timeout=60) as url:
        wait_for(lambda: queue_state(state)["counters"].get("pulls", 0) >= 1, timeout=30)
        wait_for(lambda: queue_state(state)["positions"])          # the alerts feed starts at the topic's end
        _produce_alerts(bootstrap, codecs, [_alert(ATTACKER, "k1", now), _alert(PRIVATE, "k2", now),
                                            _alert(ATTACKER, "k3", now + 30, simulated=True),
                                            _alert(LOCAL, "k4", now)])
        wait_for(lambda: queue_state(state)["counters"].get("signals_sent", 0) >= 2, timeout=30)
        assert sorted((v, s) for v, s, _ in central.signals("inst-k")) == sorted([(ATTACKER, SCENARIO),
                                                                                  (LOCAL, SCENARIO)])
        counters = queue_state(state)["counters"]
        assert counters["signals_refused_not_global"] == 1 and counters["signals_refused_simulated"] == 1

        # a second, independent reporter of the same two addresses (what another installation would send)
        capi_register(central.url, "other", "other-password")
        ok, _ = shareable_scenarios({SCENARIO: str(cfg / "scenarios" / "http-probing.yaml")}, load_index(cfg))
        digest, version = ok[SCENARIO]
        CapiClient(Credentials(central.url, "other", "other-password")).push([
            {"machine_id": "other", "scenario": SCENARIO, "scenario_hash": digest, "scenario_version": version,
             "source": {"scope": "Ip", "value": ip}, "start_at": format_ts(now - 6), "stop_at": format_ts(now)}
            for ip in (ATTACKER, LOCAL)])

        def served() -> dict:
            status, body = http(url + "/v1/decisions/stream?startup=true", key)
            return {d["value"]: d for d in (json.loads(body).get("new") or [])} if status == 200 else {}

        wait_for(lambda: ATTACKER in served(), timeout=30)
        got = served()
        assert got[ATTACKER]["origin"] == "CAPI" and got[ATTACKER]["scenario"] == SCENARIO
        assert got[LOCAL]["origin"] == "synsec"                 # never replaced by the CAPI entry
        topic = dict(read_topic(bootstrap, codecs))
        assert topic[f"Ip:{ATTACKER}"]["origin"] == "CAPI" and topic[f"Ip:{LOCAL}"]["origin"] == "synsec"
        counters = queue_state(state)["counters"]
        assert counters["blocklist_added"] == 1 and counters["blocklist_skipped_local"] == 1

    # what a worker's CrowdsecCTI reads (synsec worker wires it): the topic's CAPI decisions, not the local one
    cti = TopicCTI({"bootstrap_servers": bootstrap}, "synsec.decisions", codecs,
                   {SCENARIO: {"service": "http", "type": "scan"}})
    try:
        assert not cti(ATTACKER).IsPartOfCommunityBlocklist()          # the follower starts at the first lookup
        wait_for(lambda: cti(ATTACKER).IsPartOfCommunityBlocklist(), timeout=15)
        assert cti(ATTACKER).GetBehaviors() == ["http:scan"] and not cti(LOCAL).IsPartOfCommunityBlocklist()
    finally:
        cti.close()
