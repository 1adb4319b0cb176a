"""A hubtest directory (`<hub>/.tests/NAME/`) as CrowdSec's `cscli hubtest` reads it: `config.yaml`, the log,
`parser.assert` and `scenario.assert`. Its text is a stranger's: every path stays inside the test directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from synsec.content.yamlload import load_documents, read_content_file, where_of
from synsec.engine.errors import LoadError, Where

__all__ = ["TestConfig", "read_config", "find_tests", "tests_dir", "PARSER_ASSERT", "SCENARIO_ASSERT", "CONFIG"]

CONFIG = "config.yaml"
PARSER_ASSERT = "parser.assert"
SCENARIO_ASSERT = "scenario.assert"
ITEM_KINDS = ("parsers", "scenarios", "postoverflows")


@dataclass(frozen=True)
class TestConfig:
    """One test's `config.yaml` (CrowdSec `HubTestItemConfig`)."""

    name: str
    path: Path                                  # the test directory
    parsers: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    postoverflows: tuple[str, ...] = ()
    log_file: str = ""
    log_type: str = ""
    labels: dict = field(default_factory=dict)
    ignore_parsers: bool = False
    override_statics: tuple = ()                # statics as written (dicts), run by a node before s00-raw

    @property
    def log_path(self) -> Path:
        return self.path / self.log_file

    def labels_of_lines(self) -> dict[str, str]:
        """The acquisition labels of the log's lines: `type: log_type` and the test's `labels`."""
        return {"type": self.log_type, **self.labels}


def tests_dir(hub: Path) -> Path:
    """Where a hub checkout keeps its tests."""
    return Path(hub) / ".tests"


def find_tests(hub: Path) -> list[Path]:
    """The test directories of a hub (those with a config.yaml), by name."""
    root = tests_dir(hub)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / CONFIG).is_file())


def _names(doc: dict, key: str, path: str) -> tuple[str, ...]:
    value = doc.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) or v is None for v in value):
        raise LoadError(where_of(doc, key, key, path), "expected a list of item names")
    return tuple(v for v in value if v)


def _text(doc: dict, key: str, path: str) -> str:
    value = doc.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise LoadError(where_of(doc, key, key, path), "expected a string")
    return str(value)


def _inside(test: Path, name: str, where: Where) -> None:
    """`name` is a file of the test directory itself (no absolute path, no `..`, no symlink out of it)."""
    target = (test / name).resolve()
    if Path(name).is_absolute() or not target.is_relative_to(test.resolve()) or not target.is_file():
        raise LoadError(where, f"{name!r} is not a file of the test directory")


def read_config(test: Path) -> TestConfig:
    """Read and check `test/config.yaml`; a LoadError names file, line and field. Other keys are ignored, as
    cscli ignores them (`collections`, appsec and nuclei settings, a misspelt key)."""
    test = Path(test)
    path = str(test / CONFIG)
    docs = [doc for _, doc in load_documents(read_content_file(path), path)]
    doc = docs[0] if docs else {}
    if not isinstance(doc, dict):
        raise LoadError(Where(path, 1, "(file)"), "expected a mapping")
    labels = doc.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, (str, int, float, bool)) for v in labels.values()):
        raise LoadError(where_of(doc, "labels", "labels", path), "expected a map of strings")
    ignore = doc.get("ignore_parsers", False)
    if not isinstance(ignore, bool):
        raise LoadError(where_of(doc, "ignore_parsers", "ignore_parsers", path), "expected true or false")
    statics = doc.get("override_statics") or []
    if not isinstance(statics, list) or not all(isinstance(s, dict) for s in statics):
        raise LoadError(where_of(doc, "override_statics", "override_statics", path), "expected a list of statics")
    log_file = _text(doc, "log_file", path)
    if not log_file:
        raise LoadError(where_of(doc, "log_file", "log_file", path), "a test needs a log_file")
    _inside(test, log_file, where_of(doc, "log_file", "log_file", path))
    return TestConfig(name=test.name, path=test, parsers=_names(doc, "parsers", path),
                      scenarios=_names(doc, "scenarios", path), postoverflows=_names(doc, "postoverflows", path),
                      log_file=log_file, log_type=_text(doc, "log_type", path),
                      labels={str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in labels.items()},
                      ignore_parsers=ignore, override_statics=tuple(_plain(s) for s in statics))


def _plain(value):
    """A YAML value without the loader's position wrappers (to be written back as YAML)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
