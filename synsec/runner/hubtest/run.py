"""Run one hubtest: install its items, replay its log through the engine with the parse collector on, and
evaluate its assertion files (`cscli hubtest run`)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from synsec.assembly.build import EngineOptions, build_engine
from synsec.engine.errors import LoadError, LoadErrors, SynsecError
from synsec.engine.model import Line
from synsec.engine.pipeline import Output
from synsec.hub.index import HubIndex
from synsec.runner.hubtest.asserts import AssertReport, check_file
from synsec.runner.hubtest.autogen import parser_asserts, scenario_asserts
from synsec.runner.hubtest.config import PARSER_ASSERT, SCENARIO_ASSERT, TestConfig, read_config
from synsec.runner.hubtest.install import hub_index, install_test
from synsec.runner.hubtest.results import LineTrace, ParseCollector, scenario_results
from synsec.runner.inputs import iter_lines

__all__ = ["TestRun", "HubTestRunner", "replay_test"]


@dataclass
class TestRun:
    """The outcome of one test. `error`: it could not run (bad config, unknown item, content that does not
    load); `parser`/`scenario`: the assertion files evaluated (None when not asserted, as cscli skips them)."""

    name: str
    error: str = ""
    parser: AssertReport | None = None
    scenario: AssertReport | None = None
    missing_data: list[str] = field(default_factory=list)
    lines: list[LineTrace] = field(default_factory=list)
    alerts: int = 0
    kinds: tuple[str, ...] = ()     # what it asserts on: "parser" unless ignore_parsers, "scenario" with scenarios

    @property
    def success(self) -> bool:
        return not self.error and all(r is None or r.success for r in (self.parser, self.scenario))

    def to_dict(self) -> dict:
        return {"name": self.name, "success": self.success, "error": self.error,
                "parser": self.parser.to_dict() if self.parser else None,
                "scenario": self.scenario.to_dict() if self.scenario else None,
                "missing_data": self.missing_data, "alerts": self.alerts, "kinds": list(self.kinds)}


def replay_test(cfg: TestConfig, opts: EngineOptions, reference_ts: float) -> tuple[ParseCollector, Output]:
    """Replay the test's log through an engine built from `opts` with the parse collector on. As in CrowdSec's
    time machine (what cscli hubtest runs), an event that its parsers gave no time (`MarshaledTime`, set by
    dateparse-enrich) is parsed and recorded but poured only into trigger buckets (TimeMachinePour skips it; the
    trigger's processor overflows before that pour). A time that ParseDate could not read is a time all the same:
    CrowdSec then stamps the event with the current time, synsec with its fallback time."""
    engine, _ = build_engine(opts)
    engine.sort_ties = False            # the log's order, as cscli hubtest runs crowdsec (-order-event)
    collector = ParseCollector()
    engine.ctx.collector = collector
    out = Output()
    labels = cfg.labels_of_lines()
    for src, text in iter_lines([str(cfg.log_path.resolve())], engine.counts):
        trace = collector.start(text)
        whitelisted = engine.counts.total("whitelisted")
        undated = engine.counts.total("parser_dateparse_failed")
        evt = engine.parse(Line(text, src, labels), reference_ts if engine.last_event_time == 0.0 else 0.0)
        trace.whitelisted = engine.counts.total("whitelisted") > whitelisted
        dated_now = engine.counts.total("parser_dateparse_failed") > undated     # CrowdSec: MarshaledTime = now
        trace.parsed = evt is not None or trace.whitelisted
        if evt is None:
            continue
        trace.buckets = engine.route(evt)
        if not evt.MarshaledTime and not dated_now:   # CrowdSec's time machine: no time, only triggers take it
            specs = engine.buckets.specs
            trace.buckets = [(scenario, key) for scenario, key in trace.buckets if specs[scenario].kind.instant]
        out.extend(engine.pour(evt, trace.buckets))
    out.extend(engine.finish())
    return collector, out


class HubTestRunner:
    """The tests of one hub checkout (`<hub>/.tests/`), run with the same engine flags."""

    def __init__(self, hub: Path, *, data_dirs=(), pattern_dirs=(), geoip_city=None, geoip_asn=None, dns_server=None,
                 reference_year: int = 1970, reference_ts: float = 0.0):
        self.hub = Path(hub)
        own_data = self.hub / "data"
        self.data_dirs = [Path(d) for d in data_dirs] + ([own_data] if own_data.is_dir() else [])
        self.pattern_dirs = [Path(p) for p in pattern_dirs] or (
            [self.hub / "patterns"] if (self.hub / "patterns").is_dir() else [])
        self.geoip = (geoip_city, geoip_asn)
        self.dns_server = dns_server
        self.reference_year = reference_year
        self.reference_ts = reference_ts
        self._index: HubIndex | None = None

    @property
    def index(self) -> HubIndex:
        if self._index is None:
            self._index = hub_index(self.hub)
        return self._index

    def run(self, test: Path) -> TestRun:
        """Run one test directory; never raises for what the test or the hub holds."""
        run = TestRun(Path(test).name)
        try:
            cfg = read_config(Path(test))
            run.kinds = (("parser",) if not cfg.ignore_parsers else ()) + (("scenario",) if cfg.scenarios else ())
            with tempfile.TemporaryDirectory(prefix="synsec-hubtest-") as tmp:
                cfg_dir = Path(tmp) / "config"
                installed = install_test(cfg, self.hub, self.index, cfg_dir, self.data_dirs)
                run.missing_data = installed.missing_data
                opts = EngineOptions.from_flags(config_dir=cfg_dir, data_dirs=self.data_dirs,
                                                pattern_dirs=self.pattern_dirs, geoip_city=self.geoip[0],
                                                geoip_asn=self.geoip[1], dns_server=self.dns_server,
                                                reference_year=self.reference_year)
                collector, out = replay_test(cfg, opts, self.reference_ts)
        except (LoadError, LoadErrors) as err:
            run.error = " | ".join(str(err).splitlines())
            return run
        except (SynsecError, OSError) as err:
            run.error = f"{type(err).__name__}: {err}"
            return run
        run.lines = collector.lines
        run.alerts = len(out.alerts)
        if not cfg.ignore_parsers:
            run.parser = check_file(cfg.path / PARSER_ASSERT, collector.results, parser_asserts)
        if cfg.scenarios:
            run.scenario = check_file(cfg.path / SCENARIO_ASSERT, scenario_results(out.alerts), scenario_asserts)
        return run
