"""The embedded store: SQLite in the state directory, for alerts, decisions (with their change log) and
bouncer keys (never raw logs)."""

from synsec.store.bouncers import BouncerRecord, hash_key, match_key
from synsec.store.sqlite import Store, default_state_dir

__all__ = ["Store", "default_state_dir", "BouncerRecord", "hash_key", "match_key"]
