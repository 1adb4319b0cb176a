"""ccscli's policy commands on the embedded store: `decisions add` for every scope, `decisions list` filters
(--type --since --until --range/--contained --no-simu), `simulation`, `alerts flush`."""

from __future__ import annotations

import json

from synsec.engine.model import Decision
from synsec.store import Store
from tests.unit.test_allowlists_store import ccs


def _values(state, *args) -> list[str]:
    return sorted(d["value"] for d in json.loads(ccs(state, "decisions", "list", "-o", "json", *args)))


def test_decisions_add_any_scope_and_list_filters(tmp_path):
    """Country, AS and custom-scope decisions are added normalised; list filters select by type, age, range
    (holding or contained) and simulation; bad values are clean errors."""
    state = tmp_path / "state"
    ccs(state, "decisions", "add", "--scope", "country", "-v", "fr", "-t", "captcha")
    ccs(state, "decisions", "add", "--scope", "AS", "-v", "AS13335")
    ccs(state, "decisions", "add", "--scope", "username", "-v", "mallory")
    ccs(state, "decisions", "add", "-r", "192.0.2.0/24")
    ccs(state, "decisions", "add", "-i", "192.0.2.9")
    assert "invalid country" in ccs(state, "decisions", "add", "--scope", "Country", "-v", "France", code=1)
    assert "exactly one" in ccs(state, "decisions", "add", "-i", "192.0.2.1", "-v", "x", code=2)
    rows = json.loads(ccs(state, "decisions", "list", "-o", "json"))
    assert sorted((r["scope"], r["value"]) for r in rows) == [
        ("AS", "13335"), ("Country", "FR"), ("Ip", "192.0.2.9"), ("Range", "192.0.2.0/24"), ("username", "mallory")]
    assert _values(state, "--type", "captcha") == ["FR"]
    assert _values(state, "--range", "192.0.2.9/32") == ["192.0.2.0/24", "192.0.2.9"]
    assert _values(state, "--range", "192.0.0.0/16", "--contained") == ["192.0.2.0/24", "192.0.2.9"]
    assert _values(state, "--range", "192.0.2.0/25", "--contained") == ["192.0.2.9"]
    assert len(_values(state, "--since", "1h")) == 5 and _values(state, "--until", "1h") == []
    store = Store(state)
    store.add([], [Decision("synsec", "s", "Ip", "198.51.100.7", "ban", 3600.0, 0.0, simulated=True, id="sim")])
    store.close()
    assert "198.51.100.7" in _values(state) and "198.51.100.7" not in _values(state, "--no-simu")
    assert "needs --range" in ccs(state, "decisions", "list", "--contained", code=2)
    assert "invalid duration" in ccs(state, "decisions", "list", "--since", "soon", code=2)
