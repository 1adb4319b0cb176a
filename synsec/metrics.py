"""Labelled counters and gauges, rendered as Prometheus text (exposition format 0.0.4) and parsed back.

No client library: the API, the replay runner and the worker keep a `Counters`, and ccscli parses what an
endpoint serves into the same `Sample`s the embedded store returns, so one renderer draws both.

    c = Counters()
    c.declare("synsec_bucket_poured_total", "Events poured, by scenario.", ("scenario",))
    c.inc("synsec_bucket_poured_total", scenario="synsec/ssh-bf")
    c.collect("synsec_buckets", "Live buckets by scenario.", ("scenario",), live_by_scenario)  # at scrape
    text = c.render()            # what GET /metrics answers, with CONTENT_TYPE
    samples = parse(text)        # [Sample("synsec_bucket_poured_total", (("scenario", "synsec/ssh-bf"),), 1.0), …]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from synsec.engine.errors import SynsecError

__all__ = ["Counters", "Sample", "MetricsParseError", "CONTENT_TYPE", "parse", "render_samples",
           "merge_samples"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KINDS = ("counter", "gauge", "untyped")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


class MetricsParseError(SynsecError, ValueError):
    """Prometheus text that does not follow the exposition format; the message names the line."""


class Sample(NamedTuple):
    name: str
    labels: tuple[tuple[str, str], ...]    # (label, value) pairs, in exposition order
    value: float

    def get(self, label: str, default: str = "") -> str:
        for key, val in self.labels:
            if key == label:
                return val
        return default


@dataclass
class _Family:
    name: str
    kind: str
    help: str
    labels: tuple[str, ...]
    values: dict[tuple[str, ...], float] = field(default_factory=dict)
    collect: Callable[[], Iterable[tuple[tuple, float]]] | None = None

    def samples(self) -> list[Sample]:
        items = self.collect() if self.collect is not None else self.values.items()
        rows = sorted(((tuple(str(v) for v in key), value) for key, value in items), key=lambda kv: kv[0])
        return [Sample(self.name, tuple(zip(self.labels, key)), value) for key, value in rows]


class Counters:
    """Families of labelled samples: counters and gauges kept here (`inc`, `set`) or computed at each
    render (`collect`). Label names are fixed per family; `inc` with other labels is an error."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}

    def declare(self, name: str, help_text: str = "", labels: Iterable[str] = (), kind: str = "counter") -> None:
        """Declare a family (idempotent when identical; a conflicting redeclaration is an error)."""
        labels = tuple(labels)
        if not _NAME.fullmatch(name):
            raise ValueError(f"invalid metric name {name!r}")
        bad = [n for n in labels if not _LABEL.fullmatch(n) or n.startswith("__")]
        if bad or len(set(labels)) != len(labels):
            raise ValueError(f"{name}: invalid or repeated label names {labels!r}")
        if kind not in KINDS:
            raise ValueError(f"{name}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        old = self._families.get(name)
        if old is not None:
            if (old.kind, old.labels) != (kind, labels) or old.collect is not None:
                raise ValueError(f"{name} is already declared as a {old.kind} with labels {old.labels!r}")
            return
        self._families[name] = _Family(name, kind, help_text, labels)

    def collect(self, name: str, help_text: str, labels: Iterable[str],
                fn: Callable[[], Iterable[tuple[tuple, float]]], kind: str = "gauge") -> None:
        """A family whose (label values, value) pairs `fn` returns at each render (e.g. live buckets)."""
        if name in self._families:
            raise ValueError(f"{name} is already declared")
        self.declare(name, help_text, labels, kind)
        self._families[name].collect = fn

    def gauge(self, name: str, help_text: str, labels: Iterable[str],
              fn: Callable[[], Iterable[tuple[tuple, float]]]) -> None:
        self.collect(name, help_text, labels, fn, "gauge")

    def inc(self, name: str, n: float = 1, **labels) -> None:
        """Add `n` to the sample of `name` with these labels; an undeclared name becomes a counter whose
        label names are these (sorted)."""
        fam = self._families.get(name) or self._auto(name, labels)
        if fam.kind == "counter" and n < 0:
            raise ValueError(f"{name}: a counter cannot decrease (inc by {n})")
        key = self._key(fam, labels)
        fam.values[key] = fam.values.get(key, 0) + n

    def set(self, name: str, value: float, **labels) -> None:
        """Set a gauge's sample (declared or not)."""
        fam = self._families.get(name) or self._auto(name, labels, "gauge")
        if fam.kind == "counter":
            raise ValueError(f"{name} is a counter: use inc()")
        fam.values[self._key(fam, labels)] = value

    def value(self, name: str, **labels) -> float:
        """The current value of one sample (0 when it was never counted)."""
        want = tuple(sorted((k, str(v)) for k, v in labels.items()))
        return sum(s.value for s in self.samples() if s.name == name and tuple(sorted(s.labels)) == want)

    def samples(self) -> list[Sample]:
        return [s for fam in self._families.values() for s in fam.samples()]

    def meta(self) -> dict[str, tuple[str, str]]:
        """{family name: (kind, help)}."""
        return {f.name: (f.kind, f.help) for f in self._families.values()}

    def render(self) -> str:
        """Every family in declaration order as Prometheus text (HELP, TYPE, then the samples)."""
        return render_samples(self.samples(), self.meta())

    def _auto(self, name: str, labels: dict, kind: str = "counter") -> _Family:
        self.declare(name, "", sorted(labels), kind)
        return self._families[name]

    @staticmethod
    def _key(fam: _Family, labels: dict) -> tuple[str, ...]:
        if len(labels) != len(fam.labels) or any(n not in labels for n in fam.labels):
            raise ValueError(f"{fam.name} takes labels {fam.labels!r}, got {tuple(sorted(labels))!r}")
        return tuple(str(labels[n]) for n in fam.labels)


# -- the text format ------------------------------------------------------------------------------------

def _escape(value: str, quote: bool = True) -> str:
    value = value.replace("\\", "\\\\").replace("\n", "\\n")
    return value.replace('"', '\\"') if quote else value


def _number(value: float) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if value.is_integer() and abs(value) < 2 ** 53:
            return str(int(value))
        return repr(value)
    return str(value)


def render_samples(samples: Iterable[Sample], meta: dict[str, tuple[str, str]] | None = None) -> str:
    """Samples as Prometheus text; each family's HELP/TYPE (from `meta`, else untyped) comes before its
    first sample, and families in `meta` without samples are still announced."""
    meta = meta or {}
    by_name: dict[str, list[Sample]] = {name: [] for name in meta}
    for s in samples:
        by_name.setdefault(s.name, []).append(s)
    out: list[str] = []
    for name, group in by_name.items():
        kind, help_text = meta.get(name, ("untyped", ""))
        if help_text:
            out.append(f"# HELP {name} {_escape(help_text, quote=False)}")
        out.append(f"# TYPE {name} {kind}")
        for s in group:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
            out.append(f"{name}{{{labels}}} {_number(s.value)}" if labels else f"{name} {_number(s.value)}")
    return "\n".join(out) + "\n" if out else ""


def parse(text: str, meta: dict[str, tuple[str, str]] | None = None) -> list[Sample]:
    """Samples of a Prometheus text exposition; fills `meta` ({name: (kind, help)}) from HELP/TYPE lines.
    Timestamps are read and dropped. Raises MetricsParseError naming the line on malformed input."""
    samples = []
    for number, line in enumerate(text.split("\n"), 1):      # only \n ends a line (not \x1e, \u2028…)
        line = line.strip(" \t\r")
        if not line:
            continue
        try:
            if line.startswith("#"):
                _comment(line, meta)
            else:
                samples.append(_sample(line))
        except MetricsParseError as err:
            raise MetricsParseError(f"line {number}: {err}: {line[:120]!r}") from None
    return samples


def _comment(line: str, meta: dict | None) -> None:
    parts = line[1:].strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in ("HELP", "TYPE"):
        return                                          # a plain comment
    if not _NAME.fullmatch(parts[1]):
        raise MetricsParseError(f"invalid metric name {parts[1]!r}")
    rest = parts[2] if len(parts) > 2 else ""
    if meta is None:
        return
    kind, help_text = meta.get(parts[1], ("untyped", ""))
    if parts[0] == "TYPE":
        meta[parts[1]] = (rest.strip() or "untyped", help_text)
    else:
        meta[parts[1]] = (kind, re.sub(r"\\(.)", lambda m: "\\" if m[1] == "\\" else
                                       ("\n" if m[1] == "n" else m[0]), rest))


def _sample(line: str) -> Sample:
    m = _NAME.match(line)
    if m is None:
        raise MetricsParseError("expected a metric name")
    name, pos, labels = m[0], m.end(), []
    if pos < len(line) and line[pos] == "{":
        pos = _labels(line, pos + 1, labels)
    fields = line[pos:].split()
    if not fields or len(fields) > 2 or (pos < len(line) and not line[pos].isspace()):
        raise MetricsParseError("expected `name{labels} value [timestamp]`")
    try:
        value = float(fields[0])
        if len(fields) == 2:
            int(fields[1])
    except ValueError:
        raise MetricsParseError(f"bad number {' '.join(fields)!r}") from None
    return Sample(name, tuple(labels), value)


def _labels(line: str, pos: int, out: list) -> int:
    """Parse `a="x",b="y"}` from `pos`; append the pairs to `out`; return the position after `}`."""
    while True:
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if pos < len(line) and line[pos] == "}":
            return pos + 1
        m = _LABEL.match(line, pos)
        if m is None or line[m.end():m.end() + 2] != '="':
            raise MetricsParseError("expected label=\"value\"")
        pos, chars = m.end() + 2, []
        while True:
            if pos >= len(line):
                raise MetricsParseError("unterminated label value")
            c = line[pos]
            if c == '"':
                break
            if c == "\\":
                if line[pos + 1:pos + 2] not in _UNESCAPE:
                    raise MetricsParseError(f"bad escape {line[pos:pos + 2]!r} in a label value")
                c, pos = _UNESCAPE[line[pos + 1]], pos + 1
            chars.append(c)
            pos += 1
        out.append((m[0], "".join(chars)))
        pos += 1
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if pos < len(line) and line[pos] == ",":
            pos += 1
        elif pos >= len(line) or line[pos] != "}":
            raise MetricsParseError("expected , or } after a label value")


def merge_samples(*groups: Iterable[Sample]) -> list[Sample]:
    """Samples from several endpoints, those with the same name and labels added up (first order kept)."""
    total: dict[tuple, Sample] = {}
    for group in groups:
        for s in group:
            key = (s.name, tuple(sorted(s.labels)))
            old = total.get(key)
            total[key] = s if old is None else old._replace(value=old.value + s.value)
    return list(total.values())
