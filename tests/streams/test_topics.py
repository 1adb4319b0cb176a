"""Topologies (YAML → specs), broker settings, and topic creation against the real broker and through the CLI."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from connectors.kafka.admin import KafkaAdminError, ensure_topics, ensure_topics_with
from connectors.kafka.broker import free_port
from synsec.wire.kafka import BrokerSettings, KafkaSettingsError
from synsec.cli.main import cli
from synsec.engine.errors import LoadError, LoadErrors
from topologies import REQUIRED_ROLES, TOPOLOGY_DIR, load_topology, parse_topology

# --- topology loader ------------------------------------------------------------------------------------


def test_shipped_topologies_load():
    """default has 4 partitions a topic, single has 1; both compact decisions and the crowd's blocklist and share
    names and app id."""
    default, single = load_topology("default"), load_topology("single")
    assert set(REQUIRED_ROLES) <= set(default.topics) and set(default.topics) == set(single.topics)
    assert {t.partitions for t in default.topics.values()} == {4}
    assert {t.partitions for t in single.topics.values()} == {1}
    assert default.topics["decisions"].name == "synsec.decisions" and default.topics["decisions"].compacted
    assert [r for r, t in default.topics.items() if t.compacted] == ["decisions", "blocklist"]
    assert default.app_id == single.app_id == "synsec"
    assert {r: t.name for r, t in default.topics.items()} == {r: t.name for r, t in single.topics.items()}
    assert list(default.agents) == ["parse", "route", "buckets", "profiles"]
    assert default.raw.labels == {"type": "syslog"} and default.raw.max_line_bytes == 65536


def test_changelog_topics_follow_their_tables_topics():
    """Each Faust table's changelog is <app_id>-<table>-changelog, compacted, partitioned like its source."""
    default = load_topology("default")
    logs = default.changelogs
    assert {r: t.name for r, t in logs.items()} == {"changelog:buckets": "synsec-buckets-changelog",
                                                   "changelog:decisions-until": "synsec-decisions-until-changelog",
                                                   "changelog:curation": "synsec-curation-curation-changelog",
                                                   "changelog:trust": "synsec-curation-trust"}
    assert logs["changelog:curation"].partitions == default.topics["signals"].partitions
    assert logs["changelog:trust"].partitions == 1          # one order of every partition's trust records
    assert logs["changelog:buckets"].partitions == default.topics["buckets-in"].partitions
    assert logs["changelog:decisions-until"].partitions == default.topics["decisions"].partitions
    assert {t.replication for t in logs.values()} == {3} and all(t.compacted for t in logs.values())
    assert set(default.all_topics) == set(default.topics) | set(logs)
    assert default.prefixed("t1.").changelogs["changelog:buckets"].name == "t1.synsec-buckets-changelog"
    assert load_topology("single").changelogs["changelog:buckets"].partitions == 1


def test_load_by_path_and_prefix(tmp_path):
    """A topology loads from a path; prefixed() renames every topic and the app id, nothing else."""
    path = tmp_path / "mine.yaml"
    path.write_text((TOPOLOGY_DIR / "single.yaml").read_text())
    topo = load_topology(str(path))
    assert topo.path == str(path) and topo.name == "single"
    other = topo.prefixed("t1.")
    assert other.app_id == "t1.synsec" and other.topics["raw"].name == "t1.synsec.raw"
    assert other.topics["raw"].config == topo.topics["raw"].config and topo.topics["raw"].name == "synsec.raw"


def _errors(text: str) -> str:
    with pytest.raises((LoadErrors, LoadError)) as err:
        parse_topology(text, "topo.yaml")
    return str(err.value)


_BASE = """name: t
app_id: synsec
topics:
  raw: {name: synsec.raw}
  events: {name: synsec.events}
  buckets-in: {name: synsec.buckets-in}
  alerts: {name: synsec.alerts}
  decisions: {name: synsec.decisions, config: {cleanup.policy: compact}}
  deadletter: {name: synsec.deadletter}
"""


def test_minimal_topology_gets_defaults():
    """Omitted partitions/replication/agents/raw take the documented defaults."""
    topo = parse_topology(_BASE, "topo.yaml")
    assert topo.topics["raw"].partitions == 1 and topo.topics["raw"].replication == 1
    assert topo.agents == {} and topo.raw.line_field == "message"


def test_unknown_keys_rejected_with_place():
    """Unknown keys at every level are errors naming file:line: field, all in one pass."""
    text = _BASE.replace("name: t\n", "name: t\npartitons: 4\n").replace(
        "  raw: {name: synsec.raw}", "  raw: {name: synsec.raw, partiton: 2}").replace(
        "cleanup.policy: compact", "cleanup.polcy: compact")
    out = _errors(text + "agents:\n  parse: {concurency: 2}\n")
    assert "topo.yaml:2: partitons: unknown field" in out
    assert "topo.yaml:5: topics.raw.partiton: unknown field" in out
    assert "topo.yaml:9: topics.decisions.config.cleanup.polcy: unknown Kafka topic config" in out
    assert "topo.yaml:12: agents.parse.concurency: unknown field" in out


@pytest.mark.parametrize("value,message", [("0", "0 is out of range"), ("-2", "-2 is out of range"),
                                           ("four", "expected an integer, got 'four'"),
                                           ("true", "expected an integer, got True")])
def test_bad_partitions_rejected_with_place(value, message):
    """A partition count that is not a positive integer is an error at file:line: field."""
    out = _errors(_BASE.replace("raw: {name: synsec.raw}", f"raw: {{name: synsec.raw, partitions: {value}}}"))
    assert f"topo.yaml:4: topics.raw.partitions: {message}" in out


def test_semantic_errors_rejected():
    """Missing roles, illegal or duplicate names, bad cleanup policy, concurrent buckets are all reported."""
    text = (_BASE.replace("  deadletter: {name: synsec.deadletter}\n", "")
            .replace("events: {name: synsec.events}", "events: {name: 'synsec events'}")
            .replace("alerts: {name: synsec.alerts}", "alerts: {name: synsec.raw}")
            .replace("cleanup.policy: compact", "cleanup.policy: compacted"))
    out = _errors(text + "agents:\n  buckets: {concurrency: 2}\n  sink: {}\n")
    assert "topics: missing topic role 'deadletter'" in out
    assert "topo.yaml:5: topics.events.name: 'synsec events' is not a legal Kafka topic name" in out
    assert "topo.yaml:7: topics.alerts.name: 'synsec.raw' is already the name of topic role 'raw'" in out
    assert "topo.yaml:8: topics.decisions.config.cleanup.policy: 'compacted'" in out
    assert "topo.yaml:10: agents.buckets.concurrency: must be 1" in out
    assert "topo.yaml:11: agents.sink: unknown agent 'sink'" in out


def test_inline_routing_declared_in_the_topology():
    """route: {inline: true} makes parse route (no route agent runs); it needs parse and belongs to route only."""
    default = load_topology("default")
    assert default.parse_routes and not default.runs("route") and default.runs("parse")
    split = parse_topology(_BASE + "agents:\n  parse: {}\n  route: {concurrency: 2}\n  buckets: {}\n")
    assert not split.parse_routes and split.runs("route") and not split.runs("profiles")
    assert parse_topology(_BASE).runs("route") and not parse_topology(_BASE).parse_routes   # none declared: all
    out = _errors(_BASE + "agents:\n  route: {inline: yes please}\n  buckets: {inline: true}\n")
    assert "topo.yaml:11: agents.route.inline: expected true or false" in out
    assert "topo.yaml:12: agents.buckets.inline: unknown field" in out and "needs the parse" not in out
    assert "agents.route.inline: routing inline needs the parse agent" in _errors(
        _BASE + "agents:\n  route: {inline: true}\n")


def test_unknown_topology_name():
    """An unknown topology name is an error listing the shipped ones."""
    with pytest.raises(LoadError, match="no topology named 'nope'.*default, single"):
        load_topology("nope")


# --- broker settings ------------------------------------------------------------------------------------


def test_settings_from_url_and_env_flags_win():
    """Bootstrap servers come from the URL (several, default port 9092); flags override SYNSEC_KAFKA_* env."""
    env = {"SYNSEC_KAFKA_BROKER": "kafka://envhost:1", "SYNSEC_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
           "SYNSEC_KAFKA_SASL_MECHANISM": "scram-sha-512", "SYNSEC_KAFKA_SASL_USERNAME": "envuser",
           "SYNSEC_KAFKA_SASL_PASSWORD": "s3cret"}
    s = BrokerSettings.from_url_and_env("kafka://a:9093,b", env, sasl_username="flaguser")
    assert s.bootstrap_servers == ("a:9093", "b:9092") and s.url == "kafka://a:9093,b:9092"
    assert s.urls == ["kafka://a:9093", "kafka://b:9092"]
    assert (s.security_protocol, s.sasl_mechanism, s.sasl_username) == ("SASL_PLAINTEXT", "SCRAM-SHA-512",
                                                                         "flaguser")
    assert "s3cret" not in repr(s) and "s3cret" not in str(s) and "sasl_password='***'" in repr(s)
    assert BrokerSettings.from_url_and_env(None, env).bootstrap_servers == ("envhost:1",)


@pytest.mark.parametrize("url,kwargs,message", [
    ("http://a:1", {}, "unsupported scheme"),
    ("kafka://a:notaport", {}, "is not host:port"),
    ("kafka://", {}, "no bootstrap server"),
    ("kafka://a:1", {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
     "needs a SASL username and password"),
    ("kafka://a:1", {"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_username": "u",
                     "sasl_password": "p"}, "SASL mechanism 'GSSAPI'"),
    ("kafka://a:1", {"sasl_username": "u"}, "security protocol is PLAINTEXT"),
    ("kafka://a:1", {"ssl_cafile": "/ca.pem"}, "TLS files given"),
    ("kafka://a:1", {"security_protocol": "TLS"}, "security protocol 'TLS'"),
])
def test_bad_settings_rejected(url, kwargs, message):
    """Settings that cannot work fail when built, with a message saying why."""
    with pytest.raises(KafkaSettingsError, match=re.escape(message)):
        BrokerSettings.from_url_and_env(url, {}, **kwargs)


def test_client_kwargs_for_sasl_ssl():
    """SASL_SSL settings become the right kwargs for kafka-python, aiokafka and Faust."""
    import ssl

    from faust.auth import SASLCredentials

    s = BrokerSettings.from_url("kafka://k1:9094", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256",
                                sasl_username="u", sasl_password="p")
    kp = s.kafka_python_kwargs()
    assert kp == {"bootstrap_servers": ["k1:9094"], "client_id": "synsec", "security_protocol": "SASL_SSL",
                  "sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": "u", "sasl_plain_password": "p"}
    ak = s.aiokafka_kwargs()
    assert isinstance(ak["ssl_context"], ssl.SSLContext) and ak["sasl_mechanism"] == "SCRAM-SHA-256"
    fk = s.faust_kwargs()
    creds = fk["broker_credentials"]
    assert fk["broker"] == ["kafka://k1:9094"] and isinstance(creds, SASLCredentials)
    assert creds.protocol.value == "SASL_SSL" and creds.mechanism.value == "SCRAM-SHA-256"
    plain = BrokerSettings.from_url("kafka://k1")
    assert "broker_credentials" not in plain.faust_kwargs() and plain.aiokafka_kwargs()["security_protocol"] == \
        "PLAINTEXT"


# --- topic creation -------------------------------------------------------------------------------------


def _partitions(settings, names):
    from connectors.kafka.admin import open_admin

    with open_admin(settings) as admin:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}


@pytest.mark.integration
def test_ensure_topics_creates_the_default_topology(broker_settings, fresh_topology):
    """Every topic of the default topology is created with its partition count and its configs."""
    report = ensure_topics(broker_settings, fresh_topology)
    names = [t.name for t in fresh_topology.all_topics.values()]
    assert report.ok and sorted(report.created) == sorted(names) and report.brokers == 1
    assert {t.role: t.name for t in report.topics if t.role.startswith("changelog:")} == {
        "changelog:buckets": f"{fresh_topology.app_id}-buckets-changelog",
        "changelog:decisions-until": f"{fresh_topology.app_id}-decisions-until-changelog",
        "changelog:curation": f"{fresh_topology.app_id}-curation-curation-changelog",
        "changelog:trust": f"{fresh_topology.app_id}-curation-trust"}
    trust = fresh_topology.curation_trust_topic
    assert _partitions(broker_settings, names) == {n: 1 if n == trust else 4 for n in names}
    assert all(not t.messages for t in report.topics), report.topics   # configs read back as written
    assert any("replication factor capped at the 1 broker(s)" in w for w in report.warnings)
    assert {t.replication for t in report.topics} == {1}


@pytest.mark.integration
def test_ensure_topics_is_idempotent(broker_settings, fresh_topology):
    """A second run creates nothing and reports every topic as existing."""
    ensure_topics(broker_settings, fresh_topology)
    again = ensure_topics(broker_settings, fresh_topology)
    assert again.created == [] and again.ok
    assert {t.status for t in again.topics} == {"exists"}


@pytest.mark.integration
def test_partition_mismatch_reported_not_fixed(broker_settings, fresh_topology):
    """An existing topic with another partition count is reported as a mismatch and left as it is."""
    from connectors.kafka.admin import open_admin

    events = fresh_topology.topics["events"].name
    with open_admin(broker_settings) as admin:
        admin.create_topics({events: {"num_partitions": 2, "replication_factor": 1}})
    report = ensure_topics(broker_settings, fresh_topology)
    result = next(t for t in report.topics if t.role == "events")
    assert result.status == "mismatch" and result.actual_partitions == 2 and result.partitions == 4
    assert "has 2 partition(s), the topology says 4" in result.messages[0]
    assert not report.ok and len(report.created) == len(fresh_topology.all_topics) - 1
    assert _partitions(broker_settings, [events]) == {events: 2}


@pytest.mark.integration
def test_config_mismatch_on_existing_topic_reported(broker_settings, fresh_topology):
    """A decisions topic that exists without compaction is a mismatch (decisions would expire)."""
    from connectors.kafka.admin import open_admin

    decisions = fresh_topology.topics["decisions"].name
    with open_admin(broker_settings) as admin:
        admin.create_topics({decisions: {"num_partitions": 4, "replication_factor": 1,
                                         "configs": {"cleanup.policy": "delete"}}})
    result = next(t for t in ensure_topics(broker_settings, fresh_topology).topics if t.role == "decisions")
    assert result.status == "mismatch"
    assert "config cleanup.policy is 'delete', the topology says 'compact'" in " ".join(result.messages)


class _PickyAdmin:
    """A broker that rejects topic configs at creation and refuses one key even on its own."""

    def __init__(self, refused: str):
        self.refused = refused
        self.topics: dict[str, dict] = {}

    def describe_cluster(self):
        return {"brokers": [{"broker_id": 1}]}

    def list_topics(self):
        return list(self.topics)

    def create_topics(self, request, timeout_ms=None, raise_errors=True):
        out = []
        for name, body in request.items():
            if body.get("configs"):
                out.append({"name": name, "error_code": 40, "error_message": "Unknown topic config name"})
            else:
                self.topics[name] = {"partitions": body["num_partitions"], "configs": {}}
                out.append({"name": name, "error_code": 0, "error_message": None})
        return {"topics": out}

    def alter_configs(self, resources, raise_on_unknown=True):
        out = {}
        for r in resources:
            if self.refused in r.configs:
                out[r.name] = f"InvalidConfigurationError: {self.refused} is not supported"
            else:
                self.topics[r.name]["configs"] = dict(r.configs)
                out[r.name] = "OK"
        return {"topic": out}

    def describe_topics(self, names):
        return [{"name": n, "error_code": 0, "partitions": [{}] * self.topics[n]["partitions"]} for n in names]

    def describe_configs(self, resources, config_filter="modified"):
        return {"topic": {r.name: {k: {"value": v} for k, v in self.topics[r.name]["configs"].items()}
                          for r in resources}}


def test_rejected_config_degrades_to_a_warning():
    """When a broker rejects a config, the topic is still created and each other config is applied."""
    topology = load_topology("single")
    admin = _PickyAdmin(refused="min.compaction.lag.ms")
    report = ensure_topics_with(admin, topology)
    assert report.ok and len(report.created) == len(topology.all_topics)
    decisions = next(t for t in report.topics if t.role == "decisions")
    text = " | ".join(decisions.messages)
    assert "broker rejected the topic configs" in text
    assert "config min.compaction.lag.ms=0 not applied" in text
    assert admin.topics["synsec.decisions"]["configs"] == {"cleanup.policy": "compact",
                                                           "delete.retention.ms": "86400000"}
    raw = next(t for t in report.topics if t.role == "raw")
    assert admin.topics["synsec.raw"]["configs"] == {"cleanup.policy": "delete", "retention.ms": "86400000"}
    assert not any("not applied" in m for m in raw.messages)


def test_unreachable_broker_is_a_clear_error():
    """ensure_topics against a closed port fails with KafkaAdminError naming the broker."""
    settings = BrokerSettings.from_url(f"kafka://127.0.0.1:{free_port()}")
    with pytest.raises(KafkaAdminError, match=r"cannot reach Kafka at kafka://127\.0\.0\.1"):
        ensure_topics(settings, load_topology("single"), timeout_s=1)


# --- CLI ------------------------------------------------------------------------------------------------


def _topology_file(tmp_path, prefix: str, shipped: str = "default"):
    text = (TOPOLOGY_DIR / f"{shipped}.yaml").read_text()
    text = text.replace("name: synsec.", f"name: {prefix}synsec.").replace("app_id: synsec", f"app_id: {prefix}s")
    path = tmp_path / f"{shipped}.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.integration
def test_cli_topics_create_and_list(broker, tmp_path, unique_name):
    """`synsec topics create` creates the topology (then nothing), `topics list` shows them with roles."""
    prefix = unique_name() + "."
    topo = _topology_file(tmp_path, prefix)
    runner = CliRunner()
    first = runner.invoke(cli, ["topics", "create", "--broker", broker.url, "--topology", topo, "-o", "json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["ok"] and {t["status"] for t in out["topics"]} == {"created"} and len(out["topics"]) == 12
    second = runner.invoke(cli, ["topics", "create", "--broker", broker.url, "--topology", topo, "-o", "json"])
    assert second.exit_code == 0 and {t["status"] for t in json.loads(second.stdout)["topics"]} == {"exists"}
    listed = runner.invoke(cli, ["topics", "list", "--broker", broker.url, "--topology", topo, "-o", "json"])
    assert listed.exit_code == 0, listed.output
    mine = {t["name"]: t for t in json.loads(listed.stdout)["topics"] if t["name"].startswith(prefix)}
    assert mine[f"{prefix}synsec.decisions"]["role"] == "decisions"
    assert mine[f"{prefix}synsec.decisions"]["config"]["cleanup.policy"] == "compact"
    assert mine[f"{prefix}s-buckets-changelog"]["role"] == "changelog:buckets"
    assert mine[f"{prefix}s-buckets-changelog"]["config"]["cleanup.policy"] == "compact"
    assert {t["partitions"] for t in mine.values()} == {1, 4} and len(mine) == 12
    assert mine[f"{prefix}s-curation-trust"]["partitions"] == 1


@pytest.mark.integration
def test_cli_topics_create_exits_1_on_mismatch(broker, tmp_path, unique_name, monkeypatch):
    """Creating `single` over an existing `default` reports every topic's partition mismatch and exits 1."""
    prefix = unique_name() + "."
    runner = CliRunner()
    monkeypatch.setenv("SYNSEC_KAFKA_BROKER", broker.url)     # the env var stands in for --broker
    assert runner.invoke(cli, ["topics", "create", "--topology", _topology_file(tmp_path, prefix)]).exit_code == 0
    (tmp_path / "s").mkdir()
    res = runner.invoke(cli, ["topics", "create", "--topology", _topology_file(tmp_path / "s", prefix, "single")])
    assert res.exit_code == 1
    assert res.stdout.count("\tmismatch\t") == 11 and "the topology says 1" in res.stdout


def test_cli_bad_settings_are_usage_errors():
    """A SASL protocol without credentials is a usage error (exit 2) before any connection."""
    res = CliRunner().invoke(cli, ["topics", "list", "--broker", "kafka://127.0.0.1:1",
                                   "--security-protocol", "SASL_SSL"], env={"SYNSEC_KAFKA_SASL_PASSWORD": ""})
    assert res.exit_code == 2 and "SASL mechanism" in res.output
