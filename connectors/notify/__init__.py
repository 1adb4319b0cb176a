"""Notification delivery: the senders of each notification type and the dispatcher of the store's outbox."""
