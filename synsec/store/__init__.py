"""The embedded store: SQLite in the state directory, for alerts and decisions (never raw logs)."""

from synsec.store.sqlite import Store, default_state_dir

__all__ = ["Store", "default_state_dir"]
