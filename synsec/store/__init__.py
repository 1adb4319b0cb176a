"""The embedded store: SQLite in the state directory, for alerts, decisions (with their change log) and
bouncer keys (never raw logs)."""

from synsec.store.bouncers import BouncerRecord, KeyIndex, hash_key, verify_key
from synsec.store.sqlite import Store, default_state_dir

__all__ = ["Store", "default_state_dir", "BouncerRecord", "KeyIndex", "hash_key", "verify_key"]
