"""Evaluate an assertion file (`parser.assert`, `scenario.assert`): one expr expression per line over `results`.

Each line is compiled by synsec's expr compiler (the sandboxed one content runs on: an assertion file is a
stranger's text too) with one extra function, `basename`, as cscli offers it; a line about `datasource_path`
without `basename(` gets its left side wrapped in one (cscli's compatibility shim). A line that is false, not a
condition, does not compile or fails to run is a failure naming `file:line`; for a false one the value of its
left side is shown, as cscli shows it.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from synsec.content.yamlload import read_content_file
from synsec.engine.errors import LoadError, SynsecError, Where
from synsec.engine.expr import ExprContext, compile_expr
from synsec.engine.expr.registry import Helper

__all__ = ["AssertFail", "AssertReport", "check_file", "check_lines", "MAX_ASSERT_BYTES"]

MAX_ASSERT_BYTES = 16 * 1024 * 1024
_VARIABLE = re.compile(r"([^ =]+) == .*")           # cscli's variableRE: what to show of a false assertion
_SHOWN = 400


def _basename(path) -> str:
    if path.__class__ is not str:
        raise TypeError(f"basename: expected string, got {type(path).__name__}")
    return posixpath.basename(path)


_CTX = ExprContext(helpers={"basename": Helper("basename", _basename, 1, 1, returns="str", pure=True)})


@dataclass(frozen=True)
class AssertFail:
    file: str
    line: int
    expression: str
    detail: str             # the left side's value, or why the line could not be evaluated

    def __str__(self) -> str:
        if not self.expression:
            return f"{self.file}:{self.line}: {self.detail}"
        return f"{self.file}:{self.line}: {self.expression}" + (f"  ({self.detail})" if self.detail else "")


@dataclass
class AssertReport:
    file: str
    count: int = 0
    fails: list[AssertFail] = field(default_factory=list)
    generated: str = ""        # for a missing or empty file: the assertions cscli would write (autogen)

    @property
    def success(self) -> bool:
        return not self.fails

    def to_dict(self) -> dict:
        return {"file": self.file, "assertions": self.count, "failed": len(self.fails),
                "fails": [{"line": f.line, "expression": f.expression, "detail": f.detail} for f in self.fails],
                "generated": self.generated}


def _shim(expression: str) -> str:
    """cscli's basenameShim: `X == "a.log"` about datasource_path compares basename(X)."""
    if "datasource_path" in expression and "basename(" not in expression and "==" in expression:
        left, right = expression.split("==", 2)[:2]
        return f"basename({left}) == {right}"
    return expression


def _shown(value) -> str:
    text = json.dumps(value, default=_plain, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _plain(value):
    for attr in ("to_dict",):
        if hasattr(value, attr):
            return getattr(value, attr)()
    if hasattr(value, "__slots__") or hasattr(value, "__dict__"):
        return repr(value)
    return str(value)


def _evaluate(text: str, where: Where, results):
    return compile_expr(text, where=where, params=("results",), ctx=_CTX)(results)


def check_lines(path: str, text: str, results) -> AssertReport:
    """Evaluate every non-empty line of an assertion file's text against `results`."""
    report = AssertReport(path)
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        report.count += 1
        where = Where(path, number, "assert")
        try:
            value = _evaluate(_shim(line), where, results)
        except SynsecError as err:
            report.fails.append(AssertFail(path, number, line, _reason(err)))
            continue
        if value is True:
            continue
        if value.__class__ is not bool:
            report.fails.append(AssertFail(path, number, line, f"not a condition: gives {_shown(value)}"))
            continue
        report.fails.append(AssertFail(path, number, line, _left_side(line, where, results)))
    return report


def _reason(err: SynsecError) -> str:
    cause = getattr(err, "cause", None)
    if cause is not None:
        return f"error: {cause if isinstance(cause, str) else f'{type(cause).__name__}: {cause}'}"
    return f"error: {err}"


def _left_side(line: str, where: Where, results) -> str:
    match = _VARIABLE.match(line)
    if not match:
        return ""
    try:
        return f"{match.group(1)} is {_shown(_evaluate(match.group(1), where, results))}"
    except SynsecError:
        return ""


def check_file(path: Path, results, autogen=None) -> AssertReport:
    """Evaluate an assertion file; a missing, empty or unreadable one is one failure at its line 1 (cscli
    fails such a test too, and shows the assertions it would make: `autogen(results)`)."""
    if not Path(path).exists():
        report = AssertReport(str(path), 1, generated=autogen(results) if autogen else "")
        report.fails.append(AssertFail(str(path), 1, "", "no such file: the test asserts nothing"))
        return report
    try:
        text = read_content_file(path, MAX_ASSERT_BYTES)
    except LoadError as err:
        report = AssertReport(str(path), 1)
        report.fails.append(AssertFail(str(path), 1, "", str(err)))
        return report
    report = check_lines(str(path), text, results)
    if report.count == 0:
        report.count = 1
        report.fails.append(AssertFail(str(path), 1, "", "empty: the test asserts nothing"))
        report.generated = autogen(results) if autogen else ""
    return report
