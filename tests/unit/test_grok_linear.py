"""Grok matching is linear in the line length, measured in CPU instructions (a step count, not seconds).

Method: the matching runs under valgrind's callgrind, which counts executed instructions deterministically.
`--toggle-collect` restricts counting to the regex engine's search function (re2::RE2::Match; for the Rust
engine, whose binding is stripped, functools.reduce around the match call; _sre's Pattern.search for the
control), and `--dump-after` writes one count per call, so one process measures
every (pattern, line) case. Each grok is fed a pathological line of length n and 4n: a linear engine grows
about 4x; a backtracking engine grows polynomially or exponentially. The control runs Python's backtracking
`re` on the same expanded regex and must blow up, which shows the measurement can tell the two apart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import re2

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = "WORD \\b\\w+\\b\nDATA .*?\nSPACE \\s*\nNOTSPACE \\S+\n"
# (grok, pathological line builder): catastrophic for a backtracking engine, on lines that fail to match
# (the worst case: every way of splitting the line is tried) and on lines that do match (RE2 then also runs
# its submatch engine over the whole line).
CASES = {
    "alternation-star": ("^(%{WORD}|%{DATA})*X$", lambda n: "a " * (n // 2)),
    "alternation-star-match": ("^(%{WORD:w}|%{DATA:d})*X$", lambda n: "a " * (n // 2) + "X"),
    "three-data": ("%{DATA:a} %{DATA:b} %{DATA:c}X", lambda n: "a " * (n // 2)),
    "nested-quantifier": ("^(%{NOTSPACE}%{SPACE})*X$", lambda n: "a" * n),
    "nested-quantifier-match": ("^(%{NOTSPACE:w}%{SPACE})*X$", lambda n: "a" * n + "X"),
}
N = 2000
CONTROL = ("three-data", 30)  # Python's re needs ~n^3.5 steps here: 4x the line is ~100x the work

_RE2_CHILD = """
import json, sys
from synsec.engine.grok import PatternLibrary
patterns, cases = json.loads(sys.argv[1])
lib = PatternLibrary.from_texts([("linear-test", patterns)])
lib.engine = "re2"
for pattern, lines in cases:
    grok = lib.compile(pattern)
    assert grok.prefilter is None, "a prefilter would skip the engine and void the measurement"
    for line in lines:
        grok.match(line)
"""
# The Rust engine's binding is stripped: count inside functools.reduce, which calls only the match (plus a
# constant-size lambda frame) — any superlinear work in the engine shows up the same.
_RUST_CHILD = """
import functools, json, sys
from synsec.engine.grok import PatternLibrary
patterns, cases = json.loads(sys.argv[1])
lib = PatternLibrary.from_texts([("linear-test", patterns)])
for pattern, lines in cases:
    grok = lib.compile(pattern)
    assert grok.prefilter is None and grok.engine == "rust", (grok.prefilter, grok.engine)
    for line in lines:
        functools.reduce(lambda _, text: grok._fast.captures(text), [line], None)
"""
_RE_CHILD = """
import json, re, sys
regex, lines = json.loads(sys.argv[1])
program = re.compile(regex)
for line in lines:
    program.search(line)
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("valgrind") and shutil.which("nm")), reason="needs valgrind and nm"),
]


def _re2_match_symbol() -> str:
    """The exact demangled name of re2::RE2::Match in the loaded extension (--dump-after takes no wildcard)."""
    lib = Path(re2._re2.__file__)
    out = subprocess.run(["nm", "-DC", "--defined-only", str(lib)], capture_output=True, text=True).stdout
    names = [line.split(" ", 2)[2] for line in out.splitlines() if " re2::RE2::Match(" in line]
    assert len(names) == 1, names
    return names[0]


def _callgrind(tmp: Path, tag: str, function: str, script: str, arg: str) -> tuple[list[str], dict, Path]:
    """(command, environment, output path) to run `script` under callgrind, counting inside `function` only."""
    out = tmp / f"{tag}.cg"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"--toggle-collect={function}",
           f"--dump-after={function}", sys.executable, "-c", script, arg]
    return cmd, env, out


def _counts(out: Path) -> list[int]:
    """Instructions per call of the counted function, in call order (one callgrind dump per call)."""
    parts = []
    for dump in out.parent.glob(out.name + ".*"):
        text = dump.read_text()
        part = int(re.search(r"^part: (\d+)", text, re.M).group(1))
        parts.append((part, int(re.search(r"^summary: (\d+)", text, re.M).group(1))))
    return [count for _, count in sorted(parts)]


def test_grok_matching_is_linear_in_line_length(tmp_path: Path):
    """RE2 and Rust-regex grok steps grow ~4x for a 4x longer pathological line; Python's re blows up."""
    from synsec.engine.grok import PatternLibrary

    # Each case is matched three times: warm-up on n (both engines build their DFA lazily), n, then 4n.
    cases = [(p, [mk(N), mk(N), mk(4 * N)]) for p, mk in CASES.values()]
    name, n = CONTROL
    pattern, mk = CASES[name]
    regex = PatternLibrary.from_texts([("t", PATTERNS)]).compile(pattern).regex
    runs = [
        _callgrind(tmp_path, "re2", _re2_match_symbol(), _RE2_CHILD, json.dumps([PATTERNS, cases])),
        _callgrind(tmp_path, "rust", "functools_reduce", _RUST_CHILD, json.dumps([PATTERNS, cases])),
        _callgrind(tmp_path, "re", "_sre_SRE_Pattern_search", _RE_CHILD, json.dumps([regex, [mk(n), mk(4 * n)]])),
    ]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for cmd, env, _ in runs]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]

    report = []
    for engine, (_, _, out) in zip(("re2", "rust"), runs):
        counts = _counts(out)
        assert len(counts) == 3 * len(CASES), (engine, counts)
        for i, case in enumerate(CASES):
            small, large = counts[3 * i + 1], counts[3 * i + 2]
            report.append(f"{engine} {case}: {small} -> {large} instructions (x{large / small:.2f})")
            assert large / small < 6, report[-1]
    control = _counts(runs[2][2])
    assert len(control) == 2, control
    report.append(f"control re {name} n={n}: {control[0]} -> {control[1]} (x{control[1] / control[0]:.1f})")
    print("\n" + "\n".join(report))
    assert control[1] / control[0] > 16, report[-1]  # worse than quadratic: the measure sees backtracking
