"""Prometheus text exposition (format 0.0.4) for the API, without a client library: a few labelled counters
and gauges computed at scrape time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

__all__ = ["Metrics", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _esc(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple) -> str:
    if not names:
        return ""
    return "{" + ",".join(f'{n}="{_esc(v)}"' for n, v in zip(names, values)) + "}"


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()   # (route, method, code)
        self.pulls: Counter[tuple[str, str]] = Counter()           # (bouncer, route)
        self.forbidden = 0
        self.gauges: list[tuple[str, str, tuple[str, ...], Callable[[], Iterable[tuple[tuple, float]]]]] = []

    def gauge(self, name: str, help_text: str, labels: tuple[str, ...],
              collect: Callable[[], Iterable[tuple[tuple, float]]]) -> None:
        """Register a gauge whose (label values, value) pairs are computed at each scrape."""
        self.gauges.append((name, help_text, labels, collect))

    def render(self) -> str:
        out: list[str] = []

        def family(name, kind, help_text, names, samples):
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            for values, v in samples:
                out.append(f"{name}{_labels(names, values)} {v:g}" if isinstance(v, float) else
                           f"{name}{_labels(names, values)} {v}")

        family("synsec_api_requests_total", "counter", "HTTP requests by route, method and status code.",
               ("route", "method", "code"), sorted(self.requests.items()))
        family("synsec_api_bouncer_pulls_total", "counter", "Decision pulls by bouncer and route.",
               ("bouncer", "route"), sorted(self.pulls.items()))
        family("synsec_api_forbidden_total", "counter", "Requests refused for a missing or wrong key.",
               (), [((), self.forbidden)])
        for name, help_text, names, collect in self.gauges:
            family(name, "gauge", help_text, names, sorted(collect()))
        return "\n".join(out) + "\n"
