"""Scenario YAML (CrowdSec grammar) → `ScenarioSpec` (strict) → compiled `BucketSpec`.

Two phases, so data files can be read before any expression that uses them compiles:
`parse_scenario_files([(path, text)])` decodes and validates every document (unknown keys, wrong types, bad
durations, type rules of CrowdSec's `ValidateFactory`), and `compile_scenarios(specs, ctx)` compiles the
expressions. Both collect every error with `path:line: field` instead of stopping at the first one.
No I/O here except `read_scenario_dir`, the one function that reads files.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from synsec.content.parsers import data_entries
from synsec.content.spec import (Doc, check_keys, get_bool, get_float, get_int, get_json_map, get_list,
                                 get_str)
from synsec.content.yamlload import line_of, load_documents, read_content_file
from synsec.engine.buckets.kinds import KINDS
from synsec.engine.buckets.spec import BayesianCondition, BucketSpec, build_spec
from synsec.engine.durations import DurationError, parse_duration
from synsec.engine.errors import ErrorCollector, LoadError, Where

__all__ = ["ScenarioSpec", "SCENARIO_KEYS", "parse_scenario_files", "compile_scenarios", "read_scenario_dir",
           "load_scenarios"]

# CrowdSec BucketFactory's yaml tags (decoded with SetStrict(true)).
SCENARIO_KEYS = frozenset({
    "format", "author", "description", "references", "type", "name", "capacity", "leakspeed", "duration",
    "filter", "groupby", "distinct", "debug", "labels", "blackhole", "reprocess", "cache_size", "profiling",
    "overflow_filter", "condition", "bayesian_prior", "bayesian_threshold", "bayesian_conditions", "scope",
    "data", "cancel_on", "version", "simulated",
})
SCOPE_KEYS = frozenset({"type", "expression"})
BAYES_KEYS = frozenset({"condition", "prob_given_evil", "prob_given_benign", "guillotine"})
_DOC_START = re.compile(r"^---(?:[ \t].*)?$", re.M)


@dataclass
class ScenarioSpec:
    """One scenario document, decoded and validated; expressions still text."""

    path: str
    line: int
    name: str
    type: str
    description: str = ""
    filter: str = ""
    groupby: str = ""
    distinct: str = ""
    capacity: int | None = None
    leakspeed: float = 0.0
    duration: float = 0.0
    blackhole: float = 0.0
    cache_size: int = 0
    overflow_filter: str = ""
    cancel_on: str = ""
    condition: str = ""
    reprocess: bool = False
    debug: bool = False
    scope_type: str = "Ip"
    scope_expression: str = ""
    labels: dict = field(default_factory=dict)
    data: list = field(default_factory=list)              # [DataEntry]
    references: list = field(default_factory=list)
    format: str = ""
    version: str = ""
    author: str = ""
    bayesian_prior: float = 0.0
    bayesian_threshold: float = 0.0
    bayesian_conditions: list = field(default_factory=list)  # [(text, evil, benign, guillotine, Where)]
    hash: str = ""                                         # sha256 of the YAML document's text
    id: str = ""                                           # name, or name#N for the N-th document of that name
    lines: dict = field(default_factory=dict)              # field -> line

    def where(self, name: str) -> Where:
        return Where(self.path, self.lines.get(name.split(".")[0], self.line), name)


def read_scenario_dir(root: str | Path) -> list[tuple[str, str]]:
    """(path, text) of every *.yaml / *.yml under `root`, sorted by path."""
    paths = sorted(p for p in Path(root).rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [(str(p), read_content_file(p)) for p in paths]


def parse_scenario_files(files: Iterable[tuple[str, str]],
                         errors: ErrorCollector | None = None) -> list[ScenarioSpec]:
    """Decode every document of every file. Without `errors`, raise LoadErrors listing them all at the end."""
    own = errors is None
    errors = ErrorCollector() if own else errors
    specs: list[ScenarioSpec] = []
    seen: dict[str, int] = {}
    for path, text in files:
        chunks = _chunks(text)
        try:
            docs = list(load_documents(text, path))
        except LoadError as err:
            errors.add(err)
            continue
        for line, data in docs:
            before = len(errors.errors)
            spec = _decode(path, line, data, errors)
            if spec is None or len(errors.errors) > before:
                continue
            spec.hash = hashlib.sha256(_chunk_at(chunks, line).encode("utf-8")).hexdigest()
            # CrowdSec keys buckets by filter+groupby+name, so documents may share a name: number them.
            seen[spec.name] = seen.get(spec.name, 0) + 1
            spec.id = spec.name if seen[spec.name] == 1 else f"{spec.name}#{seen[spec.name]}"
            specs.append(spec)
    if own:
        errors.raise_if_any()
    return specs


def compile_scenarios(specs: Iterable[ScenarioSpec], ctx: Any = None,
                      errors: ErrorCollector | None = None) -> list[BucketSpec]:
    """Compile the expressions of validated specs (ExprError → collected, the scenario is dropped)."""
    own = errors is None
    errors = ErrorCollector() if own else errors
    out = []
    for spec in specs:
        before = len(errors.errors)
        built = _compile(spec, ctx, errors)
        if built is not None and len(errors.errors) == before:
            out.append(built)
    if own:
        errors.raise_if_any()
    return out


def load_scenarios(files: Iterable[tuple[str, str]], ctx: Any = None) -> list[BucketSpec]:
    """Both phases at once, for content without data files; raises LoadErrors with every problem."""
    errors = ErrorCollector()
    specs = parse_scenario_files(files, errors)
    out = compile_scenarios(specs, ctx, errors)
    errors.raise_if_any()
    return out


# --- decoding ---

def _chunks(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each `---`-separated part of a file, for the per-document hash."""
    starts = [0] + [m.start() for m in _DOC_START.finditer(text)]
    out, line = [], 1
    for i, start in enumerate(starts):      # lines counted chunk by chunk: linear in the text
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        out.append((line, text[start:end]))
        line += text.count("\n", start, end)
    return out


def _chunk_at(chunks: list[tuple[int, str]], line: int) -> str:
    """The last chunk starting at or before `line` (a binary search: a file may hold thousands)."""
    i = bisect.bisect_right(chunks, line, key=lambda c: c[0])
    return chunks[max(i - 1, 0)][1]


def _decode(path: str, line: int, data: Any, errors: ErrorCollector) -> ScenarioSpec | None:
    doc = Doc(data, path, "", errors, line)
    if not isinstance(data, dict):
        return None
    check_keys(doc, SCENARIO_KEYS)
    name = get_str(doc, "name", required=True) or ""
    kind = get_str(doc, "type", required=True) or ""
    if kind and kind not in KINDS:
        doc.error("type", f"unknown bucket type {kind!r} (one of: {', '.join(sorted(KINDS))})")
    if not get_str(doc, "description"):
        doc.error("description", "description is mandatory")
    if not get_str(doc, "filter"):
        doc.error("filter", "bucket without filter directive")
    spec = ScenarioSpec(
        path=path, line=line, name=name, type=kind, description=get_str(doc, "description") or "",
        filter=get_str(doc, "filter") or "", groupby=get_str(doc, "groupby") or "",
        distinct=get_str(doc, "distinct") or "", capacity=get_int(doc, "capacity"),
        leakspeed=_duration(doc, "leakspeed"), duration=_duration(doc, "duration"),
        blackhole=_duration(doc, "blackhole"), cache_size=get_int(doc, "cache_size") or 0,
        overflow_filter=get_str(doc, "overflow_filter") or "", cancel_on=get_str(doc, "cancel_on") or "",
        condition=get_str(doc, "condition") or "", reprocess=get_bool(doc, "reprocess"),
        debug=get_bool(doc, "debug"), labels=dict(get_json_map(doc, "labels")),
        data=data_entries(data, path, errors), references=[str(r) for r in get_list(doc, "references")],
        format=get_str(doc, "format") or "", version=get_str(doc, "version") or "",
        author=get_str(doc, "author") or "", bayesian_prior=get_float(doc, "bayesian_prior"),
        bayesian_threshold=get_float(doc, "bayesian_threshold"),
        lines={k: line_of(data, k) for k in data})
    get_bool(doc, "profiling")
    get_bool(doc, "simulated")
    if spec.cache_size < 0:
        doc.error("cache_size", "cache_size must be >= 0")
    _check_format(doc, spec.format)
    _decode_scope(doc, spec)
    _decode_bayesian(doc, spec)
    if kind in KINDS:
        for key, message in KINDS[kind].check(spec):
            doc.error(key, message)
    return spec


def _duration(doc: Doc, key: str) -> float:
    value = doc.data.get(key)
    if value is None or value == "":
        return 0.0
    try:
        seconds = parse_duration(value)
    except DurationError as err:
        doc.error(key, str(err))
        return 0.0
    if seconds < 0:
        doc.error(key, f"negative duration {value!r}")
        return 0.0
    return seconds


def _check_format(doc: Doc, text: str) -> None:
    """CrowdSec's scenario format constraint: >= 1.0, <= 3.0 (1.4.6 had < 3.0; the current hub's AppSec
    scenarios say 3.0)."""
    if not text:
        return
    try:
        version = float(text)
    except ValueError:
        doc.error("format", f"bad format version {text!r}")
        return
    if not 1.0 <= version <= 3.0:
        doc.error("format", f"format {text} is not supported (>= 1.0, <= 3.0)")


def _decode_scope(doc: Doc, spec: ScenarioSpec) -> None:
    if doc.data.get("scope") is None:
        return
    scope = doc.child("scope", doc.data["scope"])
    if not isinstance(doc.data["scope"], dict):
        return
    check_keys(scope, SCOPE_KEYS)
    spec.scope_type = get_str(scope, "type") or "Ip"
    spec.scope_expression = get_str(scope, "expression") or ""
    if spec.scope_type not in ("Ip", "Range") and not spec.scope_expression:
        scope.error("expression", f"scope {spec.scope_type!r} needs an expression giving the value")


def _decode_bayesian(doc: Doc, spec: ScenarioSpec) -> None:
    conds = doc.data.get("bayesian_conditions")
    if conds is None:
        return
    for i, item in enumerate(get_list(doc, "bayesian_conditions")):
        d = doc.item("bayesian_conditions", i, item)
        if not isinstance(item, dict):
            continue
        check_keys(d, BAYES_KEYS)
        text = get_str(d, "condition", required=True) or ""
        evil, benign = get_float(d, "prob_given_evil"), get_float(d, "prob_given_benign")
        for key, value in (("prob_given_evil", evil), ("prob_given_benign", benign)):
            if not 0.0 <= value <= 1.0:
                d.error(key, f"{key} must be a probability in [0, 1]")
        spec.bayesian_conditions.append((text, evil, benign, get_bool(d, "guillotine"), d.where("condition")))


# --- compiling ---

def _compile(spec: ScenarioSpec, ctx: Any, errors: ErrorCollector) -> BucketSpec | None:
    from synsec.engine.expr import compile_expr, compile_predicate

    def expr(key: str, text: str, params=("evt",), predicate=False, where: Where | None = None):
        if not text:
            return None
        fn = compile_predicate if predicate else compile_expr
        try:
            return fn(text, where=where or spec.where(key), params=params, ctx=ctx)
        except LoadError as err:
            errors.add(err)
            return None

    conditions = tuple(
        BayesianCondition(expr("bayesian_conditions", text, ("evt", "queue", "leaky"), False, where),
                          evil, benign, guillotine)
        for text, evil, benign, guillotine, where in spec.bayesian_conditions)
    return build_spec(
        name=spec.name, id=spec.id, type=spec.type, capacity=spec.capacity or 0, leakspeed=spec.leakspeed,
        duration=spec.duration, cache_size=spec.cache_size, labels=spec.labels,
        filter=expr("filter", spec.filter, predicate=True), groupby=expr("groupby", spec.groupby),
        distinct=expr("distinct", spec.distinct), cancel_on=expr("cancel_on", spec.cancel_on, predicate=True),
        overflow_filter=expr("overflow_filter", spec.overflow_filter, ("queue", "signal", "leaky")),
        condition=expr("condition", spec.condition, ("evt", "queue", "leaky")),
        bayesian_prior=spec.bayesian_prior, bayesian_threshold=spec.bayesian_threshold,
        bayesian_conditions=conditions, blackhole=spec.blackhole, reprocess=spec.reprocess,
        scope_type=spec.scope_type, scope_expr=expr("scope.expression", spec.scope_expression),
        scenario_version=spec.version, scenario_hash=spec.hash, where=Where(spec.path, spec.line, ""))
