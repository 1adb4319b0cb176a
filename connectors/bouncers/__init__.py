"""Bouncers: the nginx, firewall and custom-script bouncers, each on the decisions topic's one follower
(`connectors.kafka.follower.DecisionFollower`)."""
