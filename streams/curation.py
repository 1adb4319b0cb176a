"""`synsec curation`: the crowd's curation as a Faust app — `synsec.signals` in, `synsec.blocklist` out.

`synsec central --broker` produces each accepted signal to the topology's `signals` topic, keyed by source IP
(so every report about an address lands on one partition), as an Avro `Signal` whose labels carry when central
received it (`received_at`) and the reporter's cohort (`cohort`, from central's registrations); and every 30 s
a time marker to each partition (key `tick:<time>`, no value), so that quiet partitions still expire entries.
Each partition runs its own `Curator` (connectors/central/curation.py) over its addresses: consensus is exact
(all reports of an address are on its partition), trust is estimated from the partition's share of each
reporter's reports, and the burst limit is divided by the partition count. Its state is rows of the
changelogged `curation` table — `<partition>\\0ip\\0<address>` and `<partition>\\0reporter\\0<name>` (JSON),
re-assigned after each batch — so a restarted or rebalanced worker rebuilds the partition's curator from the
table. Listings and removals go to the compacted `blocklist` topic (key `Ip:<address>`, JSON value, a
tombstone on removal), which central follows into its store.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import faust

from connectors.central.bus import TICK_PREFIX
from connectors.central.curation import Curator, Listed
from connectors.central.rules import Rules
from streams.app import QUIET_LOGGERS, _App
from streams.batching import as_current, work
from streams.bucketstore import partition_for
from streams.transport import guard_flow_resume, transport_class
from synsec.wire.codecs import Codecs, DecodeError
from synsec.wire.kafka import BrokerSettings
from synsec.wire.records import record_to_signal
from synsec.wire.registry import LocalRegistry
from topologies import CURATION_TABLE, Topology

__all__ = ["CurationSettings", "create_curation_app", "blocklist_record"]

log = logging.getLogger(__name__)

_SEP = "\x00"


@dataclass(frozen=True)
class CurationSettings:
    broker: BrokerSettings
    topology: Topology
    rules: Rules
    scenarios: dict
    data_dir: Path = Path("/tmp/synsec-curation")
    session_timeout: float = 10.0
    verify_end_offsets: bool = False


def blocklist_record(change) -> tuple[bytes, bytes | None]:
    """The blocklist topic's key and value of a curation change (a removal is a tombstone)."""
    key = f"Ip:{change.value}".encode()
    if isinstance(change, Listed):
        return key, json.dumps({"value": change.value, "scenario": change.scenario, "until": change.until}).encode()
    return key, None


class _Partitions:
    """A curator per signals partition, rebuilt from the table on first use."""

    def __init__(self, settings: CurationSettings, table):
        parts = settings.topology.topics["signals"].partitions
        self.rules = replace(settings.rules, burst_max_reports=max(1, math.ceil(settings.rules.burst_max_reports
                                                                              / parts)))
        self.scenarios = settings.scenarios
        self.table = table
        self.curators: dict[int, Curator] = {}

    def get(self, partition: int, now: float) -> Curator:
        cur = self.curators.get(partition)
        if cur is None:
            cur = self.curators[partition] = Curator(self.rules, self.scenarios, track=True)
            ips, reporters, prefix = {}, {}, f"{partition}{_SEP}"
            for key, value in list(self.table.items()):
                text = key.decode("utf-8", "surrogateescape")
                if value is None or not text.startswith(prefix):
                    continue
                _, kind, name = text.split(_SEP, 2)
                (ips if kind == "ip" else reporters)[name] = json.loads(value)
            cur.load(reporters, ips, now)
            cur.take_changes()
            log.info("curation: partition %d rebuilt from the table: %d addresses, %d reporters", partition,
                     len(ips), len(reporters))
        return cur

    def save(self, partition: int, cur: Curator) -> None:
        ips, reporters = cur.take_changes()
        for kind, rows in (("ip", ips), ("reporter", reporters)):
            for name, rec in rows.items():
                key = f"{partition}{_SEP}{kind}{_SEP}{name}".encode("utf-8", "surrogateescape")
                if rec is None:
                    self.table.pop(key, None)
                else:
                    self.table[key] = json.dumps(rec, separators=(",", ":")).encode()


def create_curation_app(settings: CurationSettings) -> faust.App:
    """The Faust app of `synsec curation` on `settings.topology`'s signals and blocklist topics."""
    topo = settings.topology
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.getLogger(name).level, logging.INFO))
    signals, blocklist = topo.topics["signals"], topo.topics["blocklist"]
    app = _App(topo.curation_app_id, **settings.broker.faust_kwargs(), store="memory://", autodiscover=False,
               datadir=str(settings.data_dir), topic_partitions=signals.partitions, topic_allow_declare=True,
               topic_disable_leader=True, consumer_auto_offset_reset="earliest",
               broker_session_timeout=settings.session_timeout, broker_heartbeat_interval=1.0,
               broker_commit_interval=1.0, table_standby_replicas=0, web_enabled=False)
    app.transport_cls = transport_class(
        settings.broker.aiokafka_kwargs() if settings.verify_end_offsets else None, 50)
    guard_flow_resume(app)
    topic = app.topic(signals.name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                      partitions=signals.partitions, internal=False)
    table = app.Table(CURATION_TABLE, default=None, key_type=bytes, value_type=bytes, partitions=signals.partitions)
    table.key_serializer = table.value_serializer = "raw"   # before the store and changelog are made (lazily)
    codecs = Codecs(LocalRegistry())
    parts = _Partitions(settings, table)

    @app.on_partitions_revoked.connect
    async def _revoked(app_, revoked, **kwargs) -> None:
        parts.curators.clear()           # rebuilt from the table (recovered from its changelog) on next use

    @app.agent(topic, name="curation", concurrency=1)
    async def curation(stream):
        async for stream_, batch, out in work(stream, app.producer, 500):
            touched = {}
            for event in batch:
                msg = event.message
                changes = _apply(parts, codecs, msg)
                if changes is None:
                    continue
                touched[msg.partition] = event
                for change in changes:
                    key, value = blocklist_record(change)
                    out.add(blocklist.name, partition_for(key, blocklist.partitions), key, value)
            for partition, event in touched.items():
                as_current(stream_, event)                   # table writes go to this partition's changelog
                parts.save(partition, parts.curators[partition])

    return app


def _apply(parts: _Partitions, codecs: Codecs, msg) -> list | None:
    """One signals message through its partition's curator: the blocklist changes (None: not used)."""
    key = msg.key or b""
    if msg.value is None:
        if not key.startswith(TICK_PREFIX):
            return None
        try:
            now = float(key[len(TICK_PREFIX):])
        except ValueError:
            return None
        return parts.get(msg.partition, now).tick(now)
    try:
        sig = record_to_signal(codecs.decode("signal", msg.value))
        now = float(sig.labels.get("received_at", ""))
    except (DecodeError, ValueError, KeyError, TypeError) as err:
        log.warning("curation: %s[%d]@%d is not a central signal: %s", msg.topic, msg.partition, msg.offset, err)
        return None
    cur = parts.get(msg.partition, now)
    cur.assign_cohort(sig.installation_id, sig.labels.get("cohort") or sig.installation_id)
    if sig.source.Scope != "Ip":
        return []
    return cur.tick(now) + cur.ingest(sig.installation_id, [(sig.source.Value, sig.scenario, sig.scenario_hash)],
                                      now)
