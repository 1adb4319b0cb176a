"""Properties of the whole engine on synsec's content: determinism and independence of group-by keys."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synsec.content.loader import default_content_dir, load_content
from synsec.engine.model import Line
from synsec.assembly.build import EngineOptions, build_engine

T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)
IPS = ["203.0.113.1", "203.0.113.2", "198.51.100.3", "2001:db8::4"]
PATHS = ["/", "/index.php", "/.env", "/wp-login.php", "/a.php", "/b.php", "/x?id=1' OR '1'='1", "/../../etc/passwd",
         "/static/app.js", "/c.php", "/d.php", "/e.php"]


@pytest.fixture(scope="module")
def content():
    return load_content(default_content_dir())


def _line(kind: str, ip: str, secs: float, k: int) -> str:
    t = T0 + timedelta(seconds=secs)
    if kind == "ssh":
        return f"{t:%b} {t.day:>2} {t:%H:%M:%S} web1 sshd[42]: Failed password for invalid user u{k} from {ip} port {1000 + k} ssh2"
    path = PATHS[k] if k < len(PATHS) else f"/probe{k}.php"
    status = 404 if k % 2 == 0 else [200, 403][k % 4 // 2]
    verb = "POST" if path == "/wp-login.php" else "GET"
    return f'{ip} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "{verb} {path} HTTP/1.1" {status} 10 "-" "Mozilla/5.0"'


events = st.lists(st.tuples(st.sampled_from(["ssh", "http"]), st.sampled_from(IPS),
                            st.floats(min_value=0, max_value=5), st.integers(min_value=0, max_value=40)),
                  min_size=1, max_size=120)


def _run(content, lines: list[tuple[str, str]]) -> list[tuple]:
    engine, _ = build_engine(EngineOptions(reference_year=T0.year), content)
    out = []
    for kind, text in lines:
        out += engine.process(Line(text, "prop", {"type": "syslog" if kind == "ssh" else "nginx"})).alerts
    out += engine.finish().alerts
    return sorted((a.Scenario, a.Source.Value, a.EventsCount, a.StartAt, a.StopAt) for a in out)


def _timeline(evs) -> list[tuple[str, str, str]]:
    secs, out = 0.0, []
    for kind, ip, gap, k in evs:
        secs += gap
        out.append((ip, kind, _line(kind, ip, secs, k)))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evs=events)
def test_same_input_twice_same_output(content, evs):
    """Replaying the same lines twice (fresh engines) gives the same alerts."""
    lines = [(k, t) for _, k, t in _timeline(evs)]
    assert _run(content, lines) == _run(content, lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evs=events)
def test_split_by_source_same_alerts(content, evs):
    """Splitting the input by source IP (every shipped scenario groups by it) gives the same alerts overall."""
    timeline = _timeline(evs)
    whole = _run(content, [(k, t) for _, k, t in timeline])
    parts = []
    for ip in IPS:
        parts += _run(content, [(k, t) for i, k, t in timeline if i == ip])
    assert whole == sorted(parts)


def test_generator_reaches_alerts(content):
    """The line generator above really produces attacks the content detects (the properties are not vacuous)."""
    evs = [("ssh", "203.0.113.1", 0.5, k) for k in range(8)] + [("http", "198.51.100.3", 0.2, 20 + 2 * k)
                                                                 for k in range(12)]
    got = _run(content, [(k, t) for _, k, t in _timeline(evs)])
    assert {"synsec/ssh-bf", "synsec/http-probing"} <= {a[0] for a in got}
