"""Load a CrowdSec-layout content directory into a ready engine configuration, collecting every error.

Layout (as `/etc/crowdsec` or the hub after `cscli install`): `parsers/<stage>/**.yaml`,
`postoverflows/<stage>/**.yaml`, `scenarios/**.yaml`, `patterns/`, `profiles.yaml`, optional
`simulation.yaml`, `allowlists.yaml`, and data files in `data/` or any `--data-dir`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from synsec.content.datafiles import read_data_file
from synsec.content.parsers import compile_parser_docs, data_entries, read_parser_docs
from synsec.content.patterns import pattern_files
from synsec.engine.grok import PatternLibrary
from synsec.content.notifications import load_notifications
from synsec.content.profiles import load_allowlists, load_profiles, load_simulation
from synsec.content.yamlload import read_content_file
from synsec.engine.errors import ErrorCollector, LoadError, Where
from synsec.engine.parser import ParserPipeline, Stage
from synsec.engine.profiles import Allowlist, Simulation

__all__ = ["Content", "load_content", "default_content_dir", "find_yaml", "read_files", "load_notification_dir"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_content_dir() -> Path:
    """synsec's own content: the repo's `scenarios/` (or the copy installed beside the package)."""
    return REPO_ROOT / "scenarios"


@dataclass
class Content:
    parsers: ParserPipeline
    postoverflows: ParserPipeline
    scenarios: list
    profiles: list
    simulation: Simulation
    allowlist: Allowlist
    expr_ctx: object
    config_dir: Path
    parser_nodes: list = field(default_factory=list)
    postoverflow_nodes: list = field(default_factory=list)
    skipped: list = field(default_factory=list)      # "path:line: not loaded: …" (missing data files, when skipped)
    notifications: dict = field(default_factory=dict)  # name → NotificationSpec (notifications/*.yaml)

    def warnings(self, delivers: bool = False) -> list[str]:
        """What the runners print once at start: profiles naming notifications, when this runner does not
        deliver them (`delivers`: synsec run, api and replay queue them in the store, docs/notifications.md)."""
        named = sorted({n for p in self.profiles for n in p.notifications})
        if not named or delivers:
            return []
        return [f"profiles.yaml names notification(s) {', '.join(named)}: this runner does not deliver "
                f"notifications (synsec run and synsec api, also with --broker, do); it counts each one it "
                f"would send (synsec_notifications_total, docs/notifications.md)"]


def find_yaml(root: Path, errors: ErrorCollector | None = None) -> list[Path]:
    """YAML files below root, sorted by file name then path (CrowdSec reads a stage dir in name order).

    Symlinked directories are followed, each real directory once (a link to a parent is no loop); a directory
    that cannot be listed is an error in `errors` when given."""
    if not root.is_dir():
        return []

    def unlisted(err: OSError) -> None:
        if errors is not None:
            errors.add(LoadError(Where(str(err.filename), 1, "(directory)"), f"cannot list: {err.strerror}"))

    found, seen = [], set()
    for dp, dirs, fs in os.walk(root, onerror=unlisted, followlinks=True):
        real = os.path.realpath(dp)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        found += [Path(dp) / f for f in fs if f.endswith((".yaml", ".yml"))]
    return sorted(found, key=lambda p: (p.name, str(p)))


def load_notification_dir(root: Path) -> dict:
    """The notifications of a content directory alone (notifications/*.yaml, by name); LoadErrors when any
    file has an error."""
    errors = ErrorCollector()
    specs = load_notifications(read_files(find_yaml(Path(root) / "notifications", errors), errors), errors)
    errors.raise_if_any()
    return specs


def read_files(paths: list[Path], errors: ErrorCollector) -> list[tuple[str, str]]:
    """(path, text) of each readable content file; an unreadable or oversized file is a collected error."""
    out = []
    for path in paths:
        text = errors.guard(read_content_file, path)
        if text is not None:
            out.append((str(path), text))
    return out


def _stage_files(root: Path, errors: ErrorCollector) -> list[tuple[str, str, str]]:
    out = []
    if not root.is_dir():
        return out
    for stage_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        out += [(stage_dir.name, path, text) for path, text in read_files(find_yaml(stage_dir, errors), errors)]
    return out


BASE_PATTERNS = "grokky_base"   # grokky's built-in patterns (USERNAME, IP, ...), always present in CrowdSec


def _patterns(dirs: list[Path], errors: ErrorCollector | None = None, engine: str = "auto") -> PatternLibrary:
    """The grok library of the pattern dirs. An unreadable pattern file or a bad line is an error in `errors`
    (raised when none is given) and the library holds the rest, so parsers are still checked."""
    own = errors is None
    errors = errors or ErrorCollector()
    base = default_content_dir() / "patterns" / BASE_PATTERNS
    texts = [(str(base), base.read_text(encoding="utf-8"))]
    for d in dirs:
        if not d.is_dir():
            raise LoadError(Where(str(d), 1, "(directory)"), "patterns directory not found")
        for path in pattern_files(d):
            text = None if path.name == BASE_PATTERNS else errors.guard(read_content_file, path, strict=False)
            if text is not None:
                texts.append((str(path), text))
    lib = PatternLibrary.from_texts(texts, errors)
    if own:
        errors.raise_if_any()
    lib.engine = engine
    return lib


def _stages(nodes: list) -> ParserPipeline:
    order: list[str] = []
    for n in nodes:
        if n.stage not in order:
            order.append(n.stage)
    order.sort()
    return ParserPipeline([Stage(s, tuple(n for n in nodes if n.stage == s)) for s in order])


def load_content(config_dir: str | Path, *, data_dirs: list | tuple = (), pattern_dirs: list | tuple = (),
                 errors: ErrorCollector | None = None, grok_engine: str = "auto",
                 skip_missing_data: bool = False) -> Content:
    """Load everything; raises LoadErrors listing every problem unless an ErrorCollector is given.

    `grok_engine` is "auto" (Rust regex where a grok translates, RE2 otherwise) or "re2" (RE2 only).
    `skip_missing_data`: a parser node or scenario whose data file is in no data dir is left out, one line each in
    `Content.skipped`, instead of being a load error (`synsec run`)."""
    from synsec.content.scenarios import compile_scenarios, parse_scenario_files
    from synsec.engine.expr import ExprContext

    own = errors is None
    errors = errors or ErrorCollector()
    root = Path(config_dir)
    if not root.is_dir():
        raise LoadError(Where(str(root), 1, "(directory)"), "content directory not found")
    dirs = [Path(d) for d in data_dirs] + [root / "data"]
    pdirs = [Path(p) for p in pattern_dirs] or ([root / "patterns"] if (root / "patterns").is_dir()
                                                 else [default_content_dir() / "patterns"])
    lib = errors.guard(_patterns, pdirs, errors, grok_engine)
    ctx = ExprContext()
    parser_docs = read_parser_docs(_stage_files(root / "parsers", errors), errors)
    post_docs = read_parser_docs(_stage_files(root / "postoverflows", errors), errors)
    scen_files = read_files(find_yaml(root / "scenarios", errors), errors)
    scen_specs = parse_scenario_files(scen_files, errors)
    skipped: list[str] = []

    def usable(what: str, entries: list) -> bool:
        missing: list | None = [] if skip_missing_data else None
        for entry in entries:
            read_data_file(entry, dirs, ctx, errors, missing)
        skipped.extend(f"{err}: this {what} is not loaded" for err in missing or ())
        return not missing

    parser_docs = [d for d in parser_docs if usable("parser node", data_entries(d.data, d.path, errors))]
    post_docs = [d for d in post_docs if usable("postoverflow node", data_entries(d.data, d.path, errors))]
    scen_specs = [s for s in scen_specs if usable("scenario", s.data)]
    parser_nodes = compile_parser_docs(parser_docs, lib, ctx, errors) if lib is not None else []
    post_nodes = compile_parser_docs(post_docs, lib, ctx, errors) if lib is not None else []
    scenarios = compile_scenarios(scen_specs, ctx, errors)
    def optional(name: str) -> tuple[str, str] | None:
        path = root / name
        found = read_files([path], errors) if os.path.lexists(path) else []
        return found[0] if found else None

    profiles_file, simulation_file, allowlists_file = (optional(n) for n in
                                                       ("profiles.yaml", "simulation.yaml", "allowlists.yaml"))
    notification_files = read_files(find_yaml(root / "notifications", errors), errors)
    notifications = load_notifications(notification_files, errors)
    profiles = load_profiles(*profiles_file, ctx, errors, frozenset(notifications)) if profiles_file else []
    simulation = load_simulation(*simulation_file, errors) if simulation_file else Simulation()
    allowlist = load_allowlists(*allowlists_file, errors) if allowlists_file else Allowlist()
    if own:
        errors.raise_if_any()
    return Content(
        parsers=_stages(parser_nodes), postoverflows=_stages(post_nodes), scenarios=scenarios,
        profiles=profiles, simulation=simulation, allowlist=allowlist, expr_ctx=ctx, config_dir=root,
        parser_nodes=parser_nodes, postoverflow_nodes=post_nodes, skipped=skipped,
        notifications=notifications)

