"""Starting the notification dispatcher of `synsec run` and `synsec api` (connectors/notify, docs/notifications.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

__all__ = ["start_notifications"]


class _Echo(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"notifications: {record.getMessage()}", err=True)


def start_notifications(state_dir: Path, specs: dict, **kw):
    """A started Dispatcher delivering the store's outbox with `specs`, or None when none is configured."""
    if not specs:
        return None
    from connectors.notify.dispatch import Dispatcher

    logger = logging.getLogger("synsec.notify")
    if not any(isinstance(h, _Echo) for h in logger.handlers):
        logger.addHandler(_Echo())
        logger.propagate = False
    logger.setLevel(logging.INFO)
    return Dispatcher(state_dir, specs, **kw).start()
