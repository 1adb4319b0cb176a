"""Declarative wiring: topics, partitions, compaction, which agents run (YAML files + their loader)."""

from topologies.spec import (AGENT_NAMES, BUCKETS_TABLE, CURATION_TABLE, EXPIRY_TABLE, REQUIRED_ROLES, TABLES,
                             TOPIC_ROLES, TOPOLOGY_DIR, WORKER_AGENTS, AgentSpec, RawSpec, TopicSpec, Topology,
                             available_topologies, changelog_name, load_topology, parse_topology)

__all__ = ["AGENT_NAMES", "BUCKETS_TABLE", "CURATION_TABLE", "EXPIRY_TABLE", "REQUIRED_ROLES", "TABLES", "TOPIC_ROLES",
           "TOPOLOGY_DIR", "WORKER_AGENTS", "AgentSpec", "RawSpec", "TopicSpec", "Topology", "available_topologies",
           "changelog_name", "load_topology", "parse_topology"]
