"""Topology YAML → frozen specs: topics, agents, raw-message defaults. Strict keys, `path:line: field` errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from synsec.content.spec import Doc, check_keys, get_map, get_str
from synsec.content.yamlload import load_documents
from synsec.engine.errors import ErrorCollector, LoadError, Where

__all__ = ["Topology", "TopicSpec", "AgentSpec", "RawSpec", "load_topology", "parse_topology",
           "available_topologies", "TOPOLOGY_DIR", "TOPIC_ROLES", "REQUIRED_ROLES", "AGENT_NAMES",
           "TOPIC_CONFIG_KEYS", "TABLES", "BUCKETS_TABLE", "EXPIRY_TABLE", "changelog_name", "WORKER_AGENTS",
           "CURATION_APP_SUFFIX", "CURATION_TABLE"]

TOPOLOGY_DIR = Path(__file__).resolve().parent

# Roles are what code refers to (`topology.topics["decisions"].name`); names are the deployment's choice.
REQUIRED_ROLES = ("raw", "events", "buckets-in", "alerts", "decisions", "deadletter")
TOPIC_ROLES = REQUIRED_ROLES + ("signals", "blocklist")
AGENT_NAMES = frozenset({"parse", "route", "buckets", "profiles"})
WORKER_AGENTS = ("parse", "route", "buckets", "profiles", "expiry")   # expiry: every worker, not in topologies
SERIAL_AGENTS = frozenset({"buckets"})   # concurrency must be 1: pours stay in offset order

# The workers' Faust tables: name -> the topic role whose partitions it follows (its rows are written while
# that topic's messages are processed). Faust keeps each table in a compacted changelog topic named
# `<app_id>-<table>-changelog` (changelog_name), which `synsec topics create` makes with the topology's
# replication (Faust itself would make it with replication 1). Table names are contracts, like topic names.
BUCKETS_TABLE = "buckets"               # bucket state, keyed by scenario + bucket key
EXPIRY_TABLE = "decisions-until"        # when each active decision expires, keyed by scope:value
TABLES = {BUCKETS_TABLE: "buckets-in", EXPIRY_TABLE: "decisions"}
# The crowd's curation (`synsec curation`, streams/curation.py) is an app of its own, `<app_id>-curation`, with
# one table fed from the signals topic: its changelog is `<app_id>-curation-curation-changelog`.
CURATION_APP_SUFFIX = "-curation"
CURATION_TABLE = "curation"
CURATION_TRUST = "trust"        # the curation's compacted trust topic: <app_id>-curation-trust
CHANGELOG_CONFIG = {"cleanup.policy": "compact"}

# Kafka's topic-level configs (Kafka 3.x documentation). A typo here is silently stored by tansu and rejected
# by Kafka at creation time: catch it at load instead.
TOPIC_CONFIG_KEYS = frozenset({
    "cleanup.policy", "compression.type", "compression.gzip.level", "compression.lz4.level",
    "compression.zstd.level", "delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms",
    "follower.replication.throttled.replicas", "index.interval.bytes", "leader.replication.throttled.replicas",
    "local.retention.bytes", "local.retention.ms", "max.compaction.lag.ms", "max.message.bytes",
    "message.downconversion.enable", "message.format.version", "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms", "message.timestamp.difference.max.ms", "message.timestamp.type",
    "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
    "remote.storage.enable", "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes",
    "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable",
})
CLEANUP_POLICIES = frozenset({"delete", "compact", "compact,delete", "delete,compact"})
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_APP_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
MAX_PARTITIONS = 10_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)
    key: str = ""     # what the message key is (documentation; shown by `synsec topics list`)
    value: str = ""   # what the message value is

    @property
    def compacted(self) -> bool:
        return "compact" in self.config.get("cleanup.policy", "")


def changelog_name(app_id: str, table: str) -> str:
    """Faust's changelog topic of `table` in app `app_id`."""
    return f"{app_id}-{table}-changelog"


@dataclass(frozen=True)
class AgentSpec:
    name: str
    concurrency: int = 1
    inline: bool = False      # route only: routing runs inside the parse agent, not as an agent of its own


@dataclass(frozen=True)
class RawSpec:
    """How a raw message becomes a Line: plain text takes `labels`; JSON reads `line_field`/`labels_field`."""

    labels: dict[str, str] = field(default_factory=dict)
    line_field: str = "message"
    labels_field: str = "labels"
    max_line_bytes: int = 65536


@dataclass(frozen=True)
class Topology:
    name: str
    app_id: str
    topics: dict[str, TopicSpec]     # role -> spec
    agents: dict[str, AgentSpec]
    raw: RawSpec
    path: str = ""

    def topic(self, role: str) -> TopicSpec:
        return self.topics[role]

    @property
    def changelogs(self) -> dict[str, TopicSpec]:
        """The tables' changelog topics, by role `changelog:<table>` (see TABLES; and the curation's)."""
        out = {}
        tables = [(table, role, self.app_id) for table, role in TABLES.items()]
        tables.append((CURATION_TABLE, "signals", self.curation_app_id))
        for table, role, app_id in tables:
            source = self.topics.get(role)
            if source is not None and (role != "signals" or "blocklist" in self.topics):
                out[f"changelog:{table}"] = TopicSpec(
                    name=changelog_name(app_id, table), partitions=source.partitions,
                    replication=source.replication, config=dict(CHANGELOG_CONFIG),
                    key=f"the {table} table's key", value=f"the {table} table's value (Faust changelog)")
        if "signals" in self.topics and "blocklist" in self.topics:
            out[f"changelog:{CURATION_TRUST}"] = TopicSpec(
                name=self.curation_trust_topic, partitions=1, replication=self.topics["signals"].replication,
                config=dict(CHANGELOG_CONFIG), key="<signals partition>\\0<reporter>, or <partition>\\0:done",
                value="JSON: a partition's trust counts of a reporter, or the epoch it has finished")
        return out

    @property
    def crowd_roles(self) -> tuple[str, ...]:
        """The roles (in `all_topics`) of the crowd's topics: what `synsec central --broker` and `synsec curation`
        use — signals, blocklist, the curation's changelog and trust topics; none when the topology has no crowd."""
        if "signals" not in self.topics or "blocklist" not in self.topics:
            return ()
        return ("signals", "blocklist", f"changelog:{CURATION_TABLE}", f"changelog:{CURATION_TRUST}")

    @property
    def curation_trust_topic(self) -> str:
        """The curation's trust topic: every signals partition's counts per reporter (streams/curation.py)."""
        return f"{self.curation_app_id}-{CURATION_TRUST}"

    @property
    def curation_app_id(self) -> str:
        """The app id of `synsec curation` on this topology."""
        return self.app_id + CURATION_APP_SUFFIX

    @property
    def all_topics(self) -> dict[str, TopicSpec]:
        """Every topic a deployment of this topology needs: its topics and its tables' changelogs."""
        return {**self.topics, **self.changelogs}

    @property
    def parse_routes(self) -> bool:
        """The parse agent routes the events it parses (`route: {inline: true}`); no route agent runs."""
        route = self.agents.get("route")
        return route is not None and route.inline

    def runs(self, agent: str) -> bool:
        """Whether a worker of this topology runs `agent` as an agent of its own (all when none is declared)."""
        if agent == "route" and self.parse_routes:
            return False
        return not self.agents or agent in self.agents

    def prefixed(self, prefix: str) -> "Topology":
        """The same wiring with `prefix` before every topic name and the app id (tests, tenants)."""
        topics = {role: replace(t, name=prefix + t.name) for role, t in self.topics.items()}
        return replace(self, app_id=prefix + self.app_id, topics=topics)


def available_topologies() -> list[str]:
    """Names of the topologies shipped in topologies/."""
    return sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yaml"))


def load_topology(name_or_path: str | Path) -> Topology:
    """A shipped topology by name (`default`, `single`) or a YAML file by path; LoadErrors lists all errors."""
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or "/" in text or path.is_file()):
        path = TOPOLOGY_DIR / f"{text}.yaml"
        if not path.is_file():
            raise LoadError(Where(text), f"no topology named {text!r} (shipped: "
                                         f"{', '.join(available_topologies())}; or give a path)")
    try:
        data = path.read_text(encoding="utf-8")
    except OSError as err:
        raise LoadError(Where(str(path)), f"cannot read topology: {err.strerror or err}") from None
    return parse_topology(data, str(path))


def parse_topology(text: str, path: str = "<string>") -> Topology:
    docs = list(load_documents(text, path))
    if len(docs) != 1:
        raise LoadError(Where(path, docs[1][0] if len(docs) > 1 else 0), "expected exactly one YAML document")
    errors = ErrorCollector()
    doc = Doc(docs[0][1], path, "", errors, docs[0][0])
    check_keys(doc, {"name", "app_id", "defaults", "topics", "agents", "raw"})
    name = get_str(doc, "name", required=True) or ""
    app_id = get_str(doc, "app_id", required=True) or ""
    if app_id and not _APP_ID.match(app_id):
        doc.error("app_id", f"{app_id!r}: use letters, digits, '.', '_' and '-'")
    defaults = doc.child("defaults", get_map(doc, "defaults") if "defaults" in doc.data else {})
    check_keys(defaults, {"partitions", "replication", "config"})
    d_partitions = _int(defaults, "partitions", 1, 1, MAX_PARTITIONS)
    d_replication = _int(defaults, "replication", 1, 1, 32767)
    d_config = _config(defaults.child("config", defaults.data.get("config") or {}))
    topics = _topics(doc, d_partitions, d_replication, d_config)
    agents = _agents(doc)
    raw = _raw(doc.child("raw", doc.data.get("raw") or {}))
    errors.raise_if_any()
    return Topology(name=name, app_id=app_id, topics=topics, agents=agents, raw=raw, path=path)


def _int(doc: Doc, key: str, default: int, low: int, high: int) -> int:
    value = doc.data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        doc.error(key, f"expected an integer, got {value!r}")
        return default
    if not low <= value <= high:
        doc.error(key, f"{value} is out of range [{low}, {high}]")
        return default
    return value


def _config(doc: Doc) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in doc.data.items():
        if key not in TOPIC_CONFIG_KEYS:
            doc.error(key, f"unknown Kafka topic config {key!r}")
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float, str)):
            value = str(value)
        else:
            doc.error(key, f"expected a scalar value, got {type(value).__name__}")
            continue
        if key == "cleanup.policy" and value.replace(" ", "") not in CLEANUP_POLICIES:
            doc.error(key, f"{value!r}: expected one of {', '.join(sorted(CLEANUP_POLICIES))}")
            continue
        out[key] = value.replace(" ", "") if key == "cleanup.policy" else value
    return out


def _topics(doc: Doc, partitions: int, replication: int, config: dict[str, str]) -> dict[str, TopicSpec]:
    section = doc.child("topics", get_map(doc, "topics"))
    if "topics" not in doc.data:
        doc.error("topics", "required field is missing")
    out: dict[str, TopicSpec] = {}
    seen: dict[str, str] = {}
    for role, body in section.data.items():
        tdoc = section.child(role, body)
        if role not in TOPIC_ROLES:
            section.error(role, f"unknown topic role {role!r} (known: {', '.join(TOPIC_ROLES)})")
            continue
        check_keys(tdoc, {"name", "partitions", "replication", "config", "key", "value"})
        name = get_str(tdoc, "name", required=True) or ""
        if name and (not _TOPIC_NAME.match(name) or name in (".", "..")):
            tdoc.error("name", f"{name!r} is not a legal Kafka topic name ([A-Za-z0-9._-], at most 249)")
        if name in seen:
            tdoc.error("name", f"{name!r} is already the name of topic role {seen[name]!r}")
        seen[name] = role
        merged = dict(config)
        merged.update(_config(tdoc.child("config", get_map(tdoc, "config"))))
        out[role] = TopicSpec(name=name, partitions=_int(tdoc, "partitions", partitions, 1, MAX_PARTITIONS),
                              replication=_int(tdoc, "replication", replication, 1, 32767), config=merged,
                              key=get_str(tdoc, "key") or "", value=get_str(tdoc, "value") or "")
    for role in REQUIRED_ROLES:
        if "topics" in doc.data and role not in section.data:
            section.error(None, f"missing topic role {role!r}")
    return out


def _agents(doc: Doc) -> dict[str, AgentSpec]:
    section = doc.child("agents", get_map(doc, "agents"))
    out: dict[str, AgentSpec] = {}
    for name, body in section.data.items():
        adoc = section.child(name, body if body is not None else {})
        if name not in AGENT_NAMES:
            section.error(name, f"unknown agent {name!r} (known: {', '.join(sorted(AGENT_NAMES))})")
            continue
        check_keys(adoc, {"concurrency", "inline"} if name == "route" else {"concurrency"})
        concurrency = _int(adoc, "concurrency", 1, 1, 64)
        if name in SERIAL_AGENTS and concurrency != 1:
            adoc.error("concurrency", f"must be 1 for {name!r}: pours of a bucket stay in offset order")
        inline = adoc.data.get("inline", False) if name == "route" else False
        if not isinstance(inline, bool):
            adoc.error("inline", f"expected true or false, got {inline!r}")
            inline = False
        if inline and "parse" not in section.data:
            adoc.error("inline", "routing inline needs the parse agent (it routes what it parses)")
        out[name] = AgentSpec(name=name, concurrency=concurrency, inline=inline)
    return out


def _raw(doc: Doc) -> RawSpec:
    check_keys(doc, {"labels", "line_field", "labels_field", "max_line_bytes"})
    labels: dict[str, str] = {}
    ldoc = doc.child("labels", get_map(doc, "labels"))
    for key, value in ldoc.data.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            ldoc.error(key, f"expected a string, got {value!r}")
        else:
            labels[str(key)] = str(value)
    return RawSpec(labels=labels, line_field=get_str(doc, "line_field", "message") or "message",
                   labels_field=get_str(doc, "labels_field", "labels") or "labels",
                   max_line_bytes=_int(doc, "max_line_bytes", 65536, 1, 16 * 1024 * 1024))
