"""Topic administration: create a topology's topics idempotently, describe what a broker has.

A topology's topics include its tables' changelog topics (`Topology.all_topics`): created here with the
topology's replication and compaction, so that workers find them (Faust would otherwise create them itself,
with replication 1) and a consumer may read them before any worker has started.

Existing topics are left alone: a partition-count or config difference is reported, never "fixed" (adding
partitions moves keys between partitions and orphans bucket state). A broker that rejects a topic config
gets the topic without it, then each config is applied on its own; what it refuses becomes a warning.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator

from synsec.wire.kafka import BrokerSettings, KafkaSettingsError
from synsec.engine.errors import SynsecError
from topologies import TopicSpec, Topology

__all__ = ["BrokerSettings", "KafkaSettingsError", "KafkaAdminError", "TopicResult", "TopicsReport",
           "BrokerTopic", "open_admin", "ensure_topics", "ensure_topics_with", "describe_topics",
           "describe_topics_with"]

TOPIC_ALREADY_EXISTS = 36
INVALID_CONFIG = 40
POLICY_VIOLATION = 44


class KafkaAdminError(SynsecError):
    """The broker cannot be reached or refuses an administrative request."""


@dataclass(frozen=True)
class TopicResult:
    role: str
    name: str
    status: str                      # created | exists | mismatch | error
    partitions: int                  # what the topology asks for
    replication: int                 # what was requested (after capping at the broker count)
    actual_partitions: int | None = None
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicsReport:
    topology: str
    brokers: int | None
    topics: tuple[TopicResult, ...]
    warnings: tuple[str, ...] = ()

    def with_status(self, status: str) -> list[TopicResult]:
        return [t for t in self.topics if t.status == status]

    @property
    def created(self) -> list[str]:
        return [t.name for t in self.with_status("created")]

    @property
    def ok(self) -> bool:
        """Every topic exists with the topology's partition count and configs."""
        return all(t.status in ("created", "exists") for t in self.topics)

    def to_dict(self) -> dict[str, Any]:
        return {"topology": self.topology, "brokers": self.brokers, "ok": self.ok,
                "topics": [asdict(t) | {"messages": list(t.messages)} for t in self.topics],
                "warnings": list(self.warnings)}


@dataclass(frozen=True)
class BrokerTopic:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def open_admin(settings: BrokerSettings, timeout_s: float = 30.0) -> Iterator[Any]:
    """A kafka-python KafkaAdminClient for `settings`, closed on exit; KafkaAdminError when unreachable."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    kwargs = settings.kafka_python_kwargs()
    kwargs["request_timeout_ms"] = int(timeout_s * 1000)
    if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG:
        kwargs["bootstrap_timeout_ms"] = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(**kwargs)
    except KafkaError as err:
        raise KafkaAdminError(f"cannot reach Kafka at {settings.url}: {err}") from None
    try:
        yield admin
    except KafkaError as err:
        raise KafkaAdminError(f"{settings.url}: {type(err).__name__}: {err}") from None
    finally:
        admin.close()


def ensure_topics(settings: BrokerSettings, topology: Topology, *, timeout_s: float = 30.0,
                  roles: Iterable[str] | None = None) -> TopicsReport:
    """Create the topology's missing topics (only those of `roles`, roles of `Topology.all_topics`, when given);
    report existing ones (and any mismatch). Idempotent."""
    with open_admin(settings, timeout_s) as admin:
        return ensure_topics_with(admin, topology, timeout_ms=int(timeout_s * 1000), roles=roles)


def ensure_topics_with(admin: Any, topology: Topology, *, timeout_ms: int = 30000,
                       roles: Iterable[str] | None = None) -> TopicsReport:
    """ensure_topics on an open KafkaAdminClient (or anything with its methods)."""
    warnings: list[str] = []
    brokers = _broker_count(admin, warnings)
    present = set(admin.list_topics())
    specs = topology.all_topics
    if roles is not None:
        specs = {role: specs[role] for role in roles}
    replication = {role: min(spec.replication, brokers or spec.replication) for role, spec in specs.items()}
    capped = [spec.name for role, spec in specs.items() if replication[role] < spec.replication]
    if capped:
        warnings.append(f"replication factor capped at the {brokers} broker(s) of this cluster for: "
                        f"{', '.join(capped)}")
    missing = {role: spec for role, spec in specs.items() if spec.name not in present}
    outcome = _create(admin, missing, replication, timeout_ms) if missing else {}
    names = [spec.name for role, spec in specs.items() if outcome.get(role, ("exists",))[0] != "error"]
    partitions = _partition_counts(admin, names)
    configs = _topic_configs(admin, names, warnings)
    results = []
    for role, spec in specs.items():
        status, messages = outcome.get(role, ("exists", []))
        actual = partitions.get(spec.name)
        if status != "error":
            status = _compare(spec, status, actual, configs.get(spec.name), messages)
        results.append(TopicResult(role=role, name=spec.name, status=status, partitions=spec.partitions,
                                   replication=replication[role], actual_partitions=actual,
                                   messages=tuple(messages)))
    return TopicsReport(topology=topology.name, brokers=brokers, topics=tuple(results), warnings=tuple(warnings))


def _broker_count(admin: Any, warnings: list[str]) -> int | None:
    try:
        return len(admin.describe_cluster()["brokers"]) or None
    except Exception as err:  # noqa: BLE001 - an old broker without DescribeCluster: keep going
        warnings.append(f"cannot count brokers ({type(err).__name__}); replication factors sent as written")
        return None


def _create(admin: Any, missing: dict[str, TopicSpec], replication: dict[str, int],
            timeout_ms: int) -> dict[str, tuple[str, list[str]]]:
    """role -> (status, messages) for every topic in `missing`."""
    from kafka.errors import for_code

    request = {spec.name: {"num_partitions": spec.partitions, "replication_factor": replication[role],
                           "configs": dict(spec.config)} for role, spec in missing.items()}
    answer = {t["name"]: t for t in admin.create_topics(request, timeout_ms=timeout_ms,
                                                         raise_errors=False)["topics"]}
    out: dict[str, tuple[str, list[str]]] = {}
    for role, spec in missing.items():
        code = answer.get(spec.name, {}).get("error_code", -1)
        reason = answer.get(spec.name, {}).get("error_message") or ""
        if code == 0:
            out[role] = ("created", [])
        elif code == TOPIC_ALREADY_EXISTS:      # created meanwhile by another worker
            out[role] = ("exists", [])
        elif code in (INVALID_CONFIG, POLICY_VIOLATION) and spec.config:
            out[role] = _create_without_configs(admin, spec, replication[role], timeout_ms,
                                                f"{for_code(code).__name__}: {reason}".rstrip(": "))
        else:
            out[role] = ("error", [f"not created: {for_code(code).__name__} {reason}".strip()])
    return out


def _create_without_configs(admin: Any, spec: TopicSpec, replication: int, timeout_ms: int,
                            why: str) -> tuple[str, list[str]]:
    from kafka.admin import ConfigResource, ConfigResourceType
    from kafka.errors import for_code

    answer = admin.create_topics({spec.name: {"num_partitions": spec.partitions,
                                              "replication_factor": replication}},
                                 timeout_ms=timeout_ms, raise_errors=False)["topics"][0]
    if answer["error_code"] not in (0, TOPIC_ALREADY_EXISTS):
        return "error", [f"not created: {for_code(answer['error_code']).__name__} {answer.get('error_message') or ''}"
                         .strip()]
    messages = [f"broker rejected the topic configs ({why}); created without them, then applied one by one"]
    accepted: dict[str, str] = {}
    for key, value in spec.config.items():
        resource = ConfigResource(ConfigResourceType.TOPIC, spec.name, configs={**accepted, key: value})
        try:
            result = admin.alter_configs([resource], raise_on_unknown=False)["topic"][spec.name]
        except Exception as err:  # noqa: BLE001 - reported, the topic itself exists
            result = f"{type(err).__name__}: {err}"
        if result == "OK":
            accepted[key] = value
        else:
            messages.append(f"config {key}={value} not applied: {result}")
    return "created", messages


def _partition_counts(admin: Any, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    return {t["name"]: len(t.get("partitions") or []) for t in admin.describe_topics(names)
            if not t.get("error_code")}


def _topic_configs(admin: Any, names: list[str], warnings: list[str]) -> dict[str, dict[str, str]]:
    from kafka.admin import ConfigResource, ConfigResourceType

    if not names:
        return {}
    try:
        answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names],
                                        config_filter="all")["topic"]
    except Exception as err:  # noqa: BLE001 - configs are checked when the broker can tell them
        warnings.append(f"cannot read topic configs ({type(err).__name__}: {err}); configs not checked")
        return {}
    return {name: {k: (v.get("value") if isinstance(v, dict) else v) for k, v in cfg.items()}
            for name, cfg in answer.items()}


def _compare(spec: TopicSpec, status: str, actual: int | None, config: dict[str, str] | None,
             messages: list[str]) -> str:
    if actual is None:
        messages.append("not visible in the broker's metadata")
        return "error"
    if actual != spec.partitions:
        messages.append(f"has {actual} partition(s), the topology says {spec.partitions} (left alone)")
        status = "mismatch"
    if config is None:
        return status
    for key, want in spec.config.items():
        have = config.get(key)
        if have is None:
            messages.append(f"config {key} not reported by the broker (wanted {want})")
        elif have != want:
            messages.append(f"config {key} is {have!r}, the topology says {want!r} (left alone)")
            if status == "exists":
                status = "mismatch"
    return status


def describe_topics(settings: BrokerSettings, *, timeout_s: float = 30.0,
                    internal: bool = False) -> list[BrokerTopic]:
    """Every topic on the broker with partitions, replication and its reported configs."""
    with open_admin(settings, timeout_s) as admin:
        return describe_topics_with(admin, internal=internal)


def describe_topics_with(admin: Any, *, internal: bool = False) -> list[BrokerTopic]:
    names = sorted(n for n in admin.list_topics() if internal or not n.startswith("__"))
    if not names:
        return []
    configs = _topic_configs(admin, names, [])
    out = []
    for t in sorted(admin.describe_topics(names), key=lambda t: t["name"]):
        parts = t.get("partitions") or []
        out.append(BrokerTopic(name=t["name"], partitions=len(parts),
                               replication=max((len(p.get("replica_nodes") or []) for p in parts), default=0),
                               config=configs.get(t["name"], {})))
    return out
