"""Bouncers: a decisions-topic follower (`client`) and the nginx, firewall and custom-script bouncers on it."""
