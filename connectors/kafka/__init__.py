"""Kafka at the edges: the bundled local broker, connection settings and topic administration."""
