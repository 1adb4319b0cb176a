"""The store behind the API: change log sequence, expiry logged once, migration, hashed bouncer keys."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from synsec.engine.model import Decision
from synsec.store import Store, verify_key

NOW = 2_000_000_000.0


def dec(i, value, duration=60.0):
    return Decision(origin="synsec", scenario="s", scope="Ip", value=value, type="ban", duration=duration,
                    until=0.0, id=f"d{i}")


def test_change_log_records_new_deleted_expired_once(tmp_path):
    """Inserts, deletions and expiries each log one change with an increasing sequence; repeats log none."""
    store = Store(tmp_path)
    store.add([], [dec(1, "192.0.2.1"), dec(2, "192.0.2.2", 5.0)], now=NOW)
    store.add([], [dec(1, "192.0.2.1")], now=NOW)                 # idempotent replay
    store.delete_decisions(value="192.0.2.1", now=NOW)
    store.delete_decisions(value="192.0.2.1", now=NOW)
    assert store.expire(NOW + 10) == 1 and store.expire(NOW + 20) == 0
    store.delete_decisions(value="192.0.2.2", now=NOW + 30)       # already expired: no second end
    log = [(c["seq"], c["kind"], c["id"]) for c in store.changes_after(0)]
    assert log == [(1, "new", "d1"), (2, "new", "d2"), (3, "deleted", "d1"), (4, "expired", "d2")]
    assert store.head_seq() == 4 and [c["seq"] for c in store.changes_after(2)] == [3, 4]
    assert store.decision_by_num(2)["id"] == "d2"
    store.close()


def test_existing_behaviour_of_decisions_and_delete(tmp_path):
    """decisions() and delete_decisions(value=…/decision_id=…) behave as before the change log."""
    store = Store(tmp_path)
    store.add([], [dec(1, "192.0.2.1"), dec(2, "192.0.2.2")], now=NOW)
    assert [r["id"] for r in store.decisions(now=NOW)] == ["d1", "d2"]
    assert store.delete_decisions(decision_id="d2", now=NOW) == 1
    assert [r["id"] for r in store.decisions(now=NOW)] == ["d1"]
    with pytest.raises(ValueError):
        store.delete_decisions(now=NOW)                           # no filter: refused, not "delete all"
    store.close()


def test_old_database_is_migrated(tmp_path):
    """A database from before the change log gets its columns, triggers and a `new` change per decision."""
    db = sqlite3.connect(tmp_path / "synsec.db")
    db.executescript("""CREATE TABLE decisions (id TEXT PRIMARY KEY, alert_id TEXT, origin TEXT,
      scenario TEXT, scope TEXT, value TEXT, type TEXT, duration REAL, until REAL, simulated INTEGER,
      created_at REAL, deleted_at REAL);""")
    db.execute("INSERT INTO decisions VALUES ('old','','synsec','s','Ip','192.0.2.1','ban',60,?,0,?,NULL)",
               (NOW + 60, NOW))
    db.commit()
    db.close()
    store = Store(tmp_path)
    assert store.decision_by_num(1)["id"] == "old"
    store.add([], [dec(2, "192.0.2.2")], now=NOW)
    assert [(c["kind"], c["id"], c["num"]) for c in store.changes_after(0)] == [("new", "old", 1),
                                                                               ("new", "d2", 2)]
    store.close()


def test_bouncer_keys_are_stored_hashed(tmp_path):
    """A bouncer key is returned once, stored only as a salted hash, and authenticates; others do not."""
    store = Store(tmp_path)
    key = store.add_bouncer("fw", now=NOW)
    assert len(key) == 64
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("synsec.db*"))  # database and its WAL
    stored = store.db.execute("SELECT key_hash FROM bouncers").fetchone()[0]
    assert key.encode() not in raw and hashlib.sha256(key.encode()).hexdigest().encode() not in raw
    assert stored.startswith("hmac-sha256$") and stored.encode() in raw and verify_key(key, stored)
    assert store.authenticate(key).name == "fw" and store.authenticate(key[:-1] + "x") is None
    assert store.authenticate("") is None
    with pytest.raises(ValueError, match="already exists"):
        store.add_bouncer("fw")
    with pytest.raises(ValueError, match="invalid bouncer name"):
        store.add_bouncer("bad name")
    store.record_pull("fw", seq=7, now=NOW, ip_address="127.0.0.1", user_agent="ua")
    assert store.last_seq("fw") == 7 and store.bouncer("fw").user_agent == "ua"
    assert store.delete_bouncer("fw") and store.authenticate(key) is None
    store.close()
