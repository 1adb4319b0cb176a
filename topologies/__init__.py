"""Declarative wiring: topics, partitions, compaction, which agents run (YAML files + their loader)."""

from topologies.spec import (AGENT_NAMES, REQUIRED_ROLES, TOPIC_ROLES, TOPOLOGY_DIR, AgentSpec, RawSpec,
                             TopicSpec, Topology, available_topologies, load_topology, parse_topology)

__all__ = ["AGENT_NAMES", "REQUIRED_ROLES", "TOPIC_ROLES", "TOPOLOGY_DIR", "AgentSpec", "RawSpec", "TopicSpec",
           "Topology", "available_topologies", "load_topology", "parse_topology"]
