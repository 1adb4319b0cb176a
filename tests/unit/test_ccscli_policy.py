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


def test_simulation_enable_disable_status(tmp_path):
    """cscli's rules: per scenario (exclusions invert the global switch), --global clears the exclusions; the
    file written is what the loader reads."""
    from synsec.content.profiles import load_simulation
    from synsec.engine.errors import ErrorCollector

    config = tmp_path / "config"
    config.mkdir()
    sim = ["--config-dir", str(config), "simulation"]
    ccs(tmp_path, *sim, "enable", "synsec/ssh-bf")
    assert "already enabled" in ccs(tmp_path, *sim, "enable", "synsec/ssh-bf")
    assert "simulated: synsec/ssh-bf" in ccs(tmp_path, *sim, "status")
    ccs(tmp_path, *sim, "enable", "--global")
    ccs(tmp_path, *sim, "disable", "synsec/http-probing")
    loaded = load_simulation("s", (config / "simulation.yaml").read_text(), ErrorCollector())
    assert loaded.is_simulated("synsec/ssh-bf") and not loaded.is_simulated("synsec/http-probing")
    assert "not simulated: synsec/http-probing" in ccs(tmp_path, *sim, "status")
    ccs(tmp_path, *sim, "disable", "--global")
    assert ccs(tmp_path, *sim, "status").strip().endswith("global simulation: disabled")
    assert "not both" in ccs(tmp_path, *sim, "enable", "x", "--global", code=2)


def test_alerts_flush_by_age_and_count(tmp_path):
    """`alerts flush` deletes alerts stored longer ago than --max-age, then keeps the newest --max-items."""
    from synsec.engine.model import Alert, Source

    store = Store(tmp_path)
    for i, at in enumerate([100.0, 1e12, 1e12 + 1, 1e12 + 2]):
        store.add([Alert("s/x", Source(Value=f"192.0.2.{i}"), 1, 0.0, float(i), UUID=f"a{i}")], [], now=at)
    store.close()
    assert "1 alert(s) flushed" in ccs(tmp_path, "alerts", "flush", "--max-items", "0")
    assert "1 alert(s) flushed" in ccs(tmp_path, "alerts", "flush", "--max-items", "2", "--max-age", "0s")
    store = Store(tmp_path)
    assert sorted(a["source"]["value"] for a in store.alerts()) == ["192.0.2.2", "192.0.2.3"]
    store.close()
