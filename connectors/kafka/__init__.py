"""Kafka at the edges: the bundled local broker, topic administration, and the decisions topic's one follower."""
