"""ParseKV: CrowdSec's `k=v k2="quoted v"` pattern, linear in the input length (measured in instructions)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synsec.engine.expr.helpers_data import parse_kv
from tests.unit.test_grok_linear import _callgrind, _counts

# CrowdSec's pattern (pkg/exprhelpers), run by Python's backtracking findall as synsec did before: the oracle.
_ORACLE = re.compile(r'([^=\s]+)=(?:"([^"\\]*(?:\\.[^"\\]*)*)"|([^=\s]+)|\s*)')

# Hostile texts as expressions of their length k (built in the child: the texts exceed an argument's limit).
_BUILDERS = ['"a" * k', '"=" * k', '\'a="\' * (k // 3)', '"a=1 " * (k // 4) + "b" * k', '\'k="\\\\\' * (k // 4)']
_CHILD = """
import functools, json, sys
from synsec.engine.expr.helpers_data import parse_kv
def kv(_, text):
    try:
        parse_kv(text, {}, "p")
    except ValueError:
        pass
builders, sizes = json.loads(sys.argv[1])
for blob in [eval(b, {"k": k}) for b in builders for k in sizes]:
    functools.reduce(kv, [blob], None)
"""
_CONTROL = """
import functools, json, re, sys
oracle = re.compile(sys.argv[1])
for blob in ["a" * k for k in json.loads(sys.argv[2])]:
    functools.reduce(lambda _, text: oracle.findall(text), [blob], None)
"""


def _parsed(blob: str) -> dict | None:
    target: dict = {}
    try:
        parse_kv(blob, target, "p")
    except ValueError:
        return None
    return target["p"]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet='ab=" \\\n\té', max_size=40))
def test_parse_kv_finds_the_pairs_crowdsecs_pattern_finds(blob):
    """On any mix of keys, `=`, quotes, escapes and blanks, ParseKV gives the pairs of CrowdSec's pattern."""
    pairs = _ORACLE.findall(blob)
    want = {key: quoted or plain for key, quoted, plain in pairs} if pairs else None
    assert _parsed(blob) == want


def test_parse_kv_keeps_surrogates_and_reports_no_pair():
    """Lone surrogates (from a JSON `\\ud800`) pass through; a text without a pair is an error, as in CrowdSec."""
    assert _parsed('k=\ud800 q="\ud800 x"') == {"k": "\ud800", "q": "\ud800 x"}
    assert _parsed("no pair here") is None


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("valgrind"), reason="needs valgrind")
def test_parse_kv_quadratic_finding_is_linear(tmp_path):
    """ParseKV's instructions grow ~4x for a 4x longer hostile text (a long run without `=`, many `=`,
    unclosed quotes); the old backtracking findall grows ~16x on the run without `=` (the measure sees it)."""
    n, builders = 4000, _BUILDERS
    cmd, env, out = _callgrind(tmp_path, "kv", "functools_reduce", _CHILD, json.dumps([builders, [n, n, 4 * n]]))
    control_cmd, control_env, control_out = _callgrind(tmp_path, "re", "functools_reduce", _CONTROL,
                                                       _ORACLE.pattern)
    control_cmd.append(json.dumps([500, 500, 2000]))                      # warm-up, n, 4n
    procs = [subprocess.Popen(c, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for c, e in ((cmd, env), (control_cmd, control_env))]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    counts = _counts(out)
    assert len(counts) == 3 * len(builders), counts
    report = [f"case {i}: {counts[3 * i + 1]} -> {counts[3 * i + 2]} (x{counts[3 * i + 2] / counts[3 * i + 1]:.2f})"
              for i in range(len(builders))]
    control = _counts(control_out)
    report.append(f"control: {control[1]} -> {control[2]} (x{control[2] / control[1]:.1f})")
    print("\n" + "\n".join(report))
    assert all(counts[3 * i + 2] / counts[3 * i + 1] < 6 for i in range(len(builders))), report
    assert control[2] / control[1] > 12, report[-1]
