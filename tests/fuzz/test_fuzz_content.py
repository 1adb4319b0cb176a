"""Fuzz the YAML content loader: mutants of every shipped content file only ever give load errors.

Each mutant (byte flips, line deletions and duplications, YAML values swapped for other types, renamed keys,
anchors/aliases/merge keys and "billion laughs", tags, deep nesting, control characters, document markers,
truncation, grok pattern_syntax bombs, cycles and junk regexes, hostile data-file names, mutated data files and grok pattern files, each loaded with the shipped
files that read it) is written into a fresh content directory and
loaded with `load_content`, the entry point of `ccscli lint` and replay. Checked for each one: no exception but
the project's load errors escapes, every error reads `path:line: field: …` with a line >= 1 in a file of
that directory, and memory stays under an address-space cap (RLIMIT_AS) the loader's own limits keep it under.

The corpus is synsec's `scenarios/`, an allowlists.yaml seed (`content_seeds/`) and, when unpacked, the CrowdSec hub's parsers, postoverflows, scenarios
and profiles. Mutants are loaded in batches of up to 8 files per content directory (one load, and a file's
errors must not hide another's); a batch that fails is re-run one mutant at a time to name the culprit.
CI mode (~20 s): every corpus file mutated once (shipped files three times) and 80 Hypothesis examples of
1-6 files with 1-4 stacked operators (derandomized). `SYNSEC_FUZZ_LONG=1` (`make fuzz`): every operator on
every file and 3,000 Hypothesis examples, randomized so that each long run explores new mutants (a failure
prints the blob that reproduces it). The number of mutants tried is printed (`pytest -s`).
"""

from __future__ import annotations

import os
import random
import re
import resource
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from synsec.content.loader import load_content
from synsec.engine.errors import ErrorCollector, LoadError, LoadErrors
from tests.hubutil import hub_root

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "scenarios"
PATTERNS = SHIPPED / "patterns"
SEEDS = Path(__file__).resolve().parent / "content_seeds"     # files no shipped content has (allowlists.yaml)
CORE_PARSERS = tuple(str(p.relative_to(SHIPPED)) for p in sorted((SHIPPED / "parsers").glob("*/*.yaml")))
LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
HYPOTHESIS_EXAMPLES = 3000 if LONG else 80
ADDRESS_SPACE_HEADROOM = 1536 * 1024 * 1024   # the loader may grow the process by at most this much


@dataclass(frozen=True)
class Target:
    """One corpus file: where it sits in a content directory, and its text."""

    rel: str            # e.g. parsers/s01-parse/sshd-logs.yaml, scenarios/ssh-bf.yaml, profiles.yaml, data/x.txt
    source: Path
    shipped: bool
    uses: tuple = ()    # for a data or pattern file: shipped files (rels under scenarios/) that read it


def _content_files(root: Path, shipped: bool) -> list[Target]:
    out = []
    for kind in ("parsers", "postoverflows"):
        for path in sorted((root / kind).glob("*/**/*.yaml")):
            stage = path.relative_to(root / kind).parts[0]
            out.append(Target(f"{kind}/{stage}/{path.name}", path, shipped))
    out += [Target(f"scenarios/{p.name}", p, shipped) for p in sorted((root / "scenarios").rglob("*.yaml"))]
    return out


def _corpus() -> list[Target]:
    targets = _content_files(SHIPPED, True) + [Target("profiles.yaml", SHIPPED / "profiles.yaml", True),
                                               Target("allowlists.yaml", SEEDS / "allowlists.yaml", True)]
    for scen in sorted((SHIPPED / "scenarios").glob("*.yaml")):
        for name in re.findall(r"dest_file: *(\S+)", scen.read_text()):
            targets.append(Target(f"data/{name}", SHIPPED / "data" / name, True, (f"scenarios/{scen.name}",)))
    for pattern in sorted(PATTERNS.iterdir()):
        if pattern.name != "grokky_base":      # always read from synsec's own copy
            targets.append(Target(f"patterns/{pattern.name}", pattern, False, CORE_PARSERS))
    hub = hub_root() / "usr/share/crowdsec/hub"
    if hub.is_dir():
        targets += _content_files(hub, False)
        etc = hub_root() / "etc/crowdsec"
        targets += [Target(n, etc / n, False) for n in ("profiles.yaml", "simulation.yaml") if (etc / n).is_file()]
    return targets


CORPUS = _corpus()
DATA_DIRS = [SHIPPED / "data", hub_root() / "usr/share/crowdsec/data"]

# --- mutation operators: (text, rng) -> text, on bytes so that byte-level damage is possible -------------

VALUES = ["[a, b]", "{x: 1}", "123", "-1", "0", "1.5", ".nan", "-.inf", "true", "null", "~", "''", '"\\x07"',
          "2024-01-01", "2024-01-01T10:00:00Z", "!!binary aGVsbG8=", "!!set {a}", "!!omap [a: 1]",
          "!!python/object/apply:os.system [id]", "!foo bar", "9" * 5000, "1e999", "0x1F", "1:30", "&a x",
          "*nope", "../../../../etc/passwd", "/etc/passwd", "'" + "a" * 20000 + "'", "[" * 100 + "]" * 100,
          "{a: {b: {c: [1, [2, [3]]]}}}", "|\n  block\n  text", ">-\n  folded", "10 parsecs", "-10s",
          "99999999999999999999h", "'evt.Meta.x in File(\"../../../../etc/passwd\")'", "'('", "'evt.'",
          "'%{NOTAPATTERN:x}'", "'%{IP:ip'", "'(?<x>'", "'.*' ", "[{dest_file: ../../../../etc/passwd}]",
          "[{dest_file: /etc/passwd, type: regexp}]"]
KEYS = ["? [a, b]", "~", "null", "123", "true", "'on'", "<<", "name", "filter", "type", "labels", "data",
        "nodes", "statics", "grok", "stash", "capacity", "leakspeed", "bogus", "duration", "''", '"\\0"',
        "groupby", "distinct", "decisions", "filters", "whitelist", "expression", "pattern", "apply_on"]
TAGS = ["!!binary", "!!timestamp", "!!set", "!!omap", "!!pairs", "!!str", "!!int", "!!float", "!!bool", "!!null",
        "!!map", "!!seq", "!custom", "!!python/name:os.system", "!<tag:example.com,2000:x>"]
# control characters, YAML line breaks, a BOM, and (as surrogate escapes) the bytes 0xff and 0xed 0xa0 0x80 (a
# UTF-8 encoded surrogate), which are not UTF-8
SPECIALS = ["\x00", "\x07", "\x08", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "\udcff", "\udced\udca0\udc80",
            "\x0c", "\t", "\r", "\x01"]
_KV = re.compile(r"^(?P<indent>[ \t]*(?:- )?)(?P<key>[^\s:#][^:#\n]*?):(?P<sep>[ \t]+|$)(?P<value>.*)$", re.M)


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _pick_kv(text: str, rng: random.Random):
    matches = list(_KV.finditer(text))
    return rng.choice(matches) if matches else None


def _replace_value(text: str, rng: random.Random, value: str) -> str:
    m = _pick_kv(text, rng)
    if m is None:
        return text + f"\nx: {value}\n"
    return text[:m.start("value")] + (" " if not m.group("sep") else "") + value + text[m.end("value"):]


def flip_byte(text, rng):
    raw = bytearray(text.encode("utf-8", "surrogateescape"))
    for _ in range(rng.randint(1, 4)):
        if raw:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    return raw.decode("utf-8", "surrogateescape")


def delete_line(text, rng):
    lines = _lines(text)
    del lines[rng.randrange(len(lines))]
    return "\n".join(lines)


def duplicate_line(text, rng):
    lines = _lines(text)
    i = rng.randrange(len(lines))
    lines[i:i] = [lines[i]] * rng.randint(1, 3)
    return "\n".join(lines)


def shift_indent(text, rng):
    lines = _lines(text)
    i = rng.randrange(len(lines))
    lines[i] = lines[i][2:] if lines[i].startswith("  ") and rng.random() < 0.5 else "  " + lines[i]
    return "\n".join(lines)


def swap_value(text, rng):
    return _replace_value(text, rng, rng.choice(VALUES))


def rename_key(text, rng):
    m = _pick_kv(text, rng)
    if m is None:
        return text
    key = rng.choice(KEYS)
    if key.startswith("? "):
        return text[:m.start("key")] + key + "\n" + m.group("indent") + ":" + text[m.end("key") + 1:]
    return text[:m.start("key")] + key + text[m.end("key"):]


def anchor_alias(text, rng):
    kind = rng.randrange(4)
    if kind == 0:     # billion laughs appended as labels, or as a new top-level key
        rows = ["  a: &a [x, x, x, x, x, x, x, x, x]"] + [
            f"  {n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi")]
        return text.rstrip("\n") + "\n" + rng.choice(["labels:", "bomb:", "statics:"]) + "\n" + "\n".join(rows) + "\n"
    if kind == 1:     # an anchor on one value, its alias on another
        first = _pick_kv(text, rng)
        if first is None:
            return text
        text = text[:first.start("value")] + "&z " + text[first.start("value"):]
        return _replace_value(text, rng, "*z")
    if kind == 2:     # a merge key
        return _replace_value(text, rng, "{<<: *z}") if rng.random() < 0.3 else _replace_value(
            text, rng, "&m {a: 1}") + "\nmerged:\n  <<: *m\n"
    return _replace_value(text, rng, "&r [*r]")


def insert_tag(text, rng):
    m = _pick_kv(text, rng)
    if m is None:
        return text
    return text[:m.start("value")] + rng.choice(TAGS) + " " + text[m.start("value"):]


def deep_nest(text, rng):
    depth = rng.choice([30, 62, 63, 64, 65, 200, 5000])
    if rng.random() < 0.7:
        return _replace_value(text, rng, rng.choice(["[" * depth + "]" * depth, "{a: " * depth + "}" * depth]))
    block = "\n".join("  " * i + "k:" for i in range(min(depth, 400)))
    return text.rstrip("\n") + "\nnest:\n" + "\n".join("  " + ln for ln in block.split("\n")) + " 1\n"


def control_char(text, rng):
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(text) + 1)
        text = text[:i] + rng.choice(SPECIALS) + text[i:]
    return text


def doc_marker(text, rng):
    lines = _lines(text)
    lines.insert(rng.randrange(len(lines) + 1), rng.choice(["---", "...", "--- |", "%YAML 1.1", "--- !!map"]))
    return "\n".join(lines)


def truncate(text, rng):
    return text[:rng.randrange(len(text) + 1)]


REGEX_JUNK = ["(", "[z-a]", "a{1001}", "(?P<x>a)(?P<x>b)", "\\", "%{", "(?<!a)", "a**", "\\p{Foo}", "(?i",
              "x{2}{3}{4}", "(?P<", "\\1", "[[:alpha:]]", "(?U)a+", "%{FZ0:a.b-c}", ".{0,65535}"]


def grok_syntax(text, rng):
    """Top-level pattern_syntax and a grok using it: a doubling chain (2^n characters), a cycle, or junk."""
    kind = rng.randrange(3)
    if kind == 0:
        links = rng.choice([5, 20, 40])
        rows = ["  FZ0: 'ab'"] + [f"  FZ{i}: '%{{FZ{i - 1}}}%{{FZ{i - 1}}}'" for i in range(1, links)]
        top = f"FZ{links - 1}"
    elif kind == 1:
        rows, top = ["  FZ0: '%{FZ1}'", "  FZ1: 'a%{FZ0}'"], "FZ0"
    else:
        rows, top = [f"  FZ0: '{rng.choice(REGEX_JUNK).replace(chr(39), chr(39) * 2)}'"], "FZ0"
    return (text.rstrip("\n") + "\npattern_syntax:\n" + "\n".join(rows)
            + f"\ngrok:\n  pattern: '%{{{top}:fz}}'\n  apply_on: message\n")


OPS = [flip_byte, delete_line, duplicate_line, shift_indent, swap_value, rename_key, anchor_alias, insert_tag,
       deep_nest, control_char, doc_marker, truncate, grok_syntax]


def mutate(text: str, ops, seed: int) -> bytes:
    rng = random.Random(seed)
    for op in ops:
        text = op(text, rng)
    return text.encode("utf-8", "surrogateescape")


# --- running one mutant ------------------------------------------------------------------------------------

@dataclass
class Tally:
    mutants: int = 0
    loads: int = 0
    errors: int = 0


TALLY = Tally()
_PLACE = re.compile(r"^(?P<path>/.+?):(?P<line>\d+): ")


Mutant = tuple  # (Target, ops, seed)


def _write(root: Path, n: int, target: Target, ops, seed: int) -> None:
    """Mutant number n of a batch, under its own name (a batch may hold mutants of one file side by side);
    a data or pattern file keeps its name, and the shipped files that read it are added."""
    rel = Path(target.rel)
    dest = root / rel if target.uses else root / rel.parent / f"m{n}-{rel.name}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if rel.parts[0] == "patterns" and not dest.parent.joinpath("ssh").exists():
        for p in PATTERNS.iterdir():        # the rest of the pattern set, once per batch
            if p.name != "grokky_base":
                shutil.copy(p, dest.parent / p.name)
    dest.write_bytes(mutate(target.source.read_text(encoding="utf-8"), ops, seed))
    for used in target.uses:
        (root / used).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHIPPED / used, root / used)


def _label(mutants: list) -> str:
    return "; ".join(f"{t.rel} <- {[op.__name__ for op in ops]} seed={seed}" for t, ops, seed in mutants)


def run_batch(root: Path, mutants: list) -> None:
    """Write mutants into one fresh content dir and load it once; the only outcome may be load errors at
    `path:line` in that dir. A batch with a data-file mutant reads data from that dir only."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for n, (target, ops, seed) in enumerate(mutants):
        _write(root, n, target, ops, seed)
    data_dirs = [] if any(t.rel.startswith("data/") for t, _, _ in mutants) else DATA_DIRS
    errors = ErrorCollector()
    try:
        load_content(root, errors=errors, data_dirs=data_dirs)
    except (LoadError, LoadErrors) as err:
        errors.guard(_raise, err)
    except Exception as err:   # noqa: BLE001 - the finding: anything but a load error escaped
        if len(mutants) > 1:   # name the mutant that does it
            for one in mutants:
                run_batch(root, [one])
        raise AssertionError(f"{_label(mutants)}: {type(err).__name__}: {str(err)[:300]}") from err
    TALLY.mutants += len(mutants)
    TALLY.loads += 1
    TALLY.errors += len(errors.errors)
    for e in errors.errors:
        m = _PLACE.match(str(e))
        assert m and int(m.group("line")) >= 1, f"{_label(mutants)}: error without path:line: {str(e)[:300]}"
        assert e.where.field, f"{_label(mutants)}: error without a field: {str(e)[:300]}"
        assert m.group("path").startswith((str(root), str(SHIPPED / "patterns"))), f"{_label(mutants)}: {e}"


def batches(mutants: list, size: int = 8):
    return [mutants[i:i + size] for i in range(0, len(mutants), size)]


def _raise(err):
    raise err


@pytest.fixture(scope="module", autouse=True)
def address_space_cap():
    """Cap the process's address space at its current size plus ADDRESS_SPACE_HEADROOM while fuzzing."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as fh:
        vm = next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("VmSize:"))
    cap = vm + ADDRESS_SPACE_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    print(f"\nfuzz content: {TALLY.mutants} mutants in {TALLY.loads} loads, {TALLY.errors} load errors, "
          f"no other exception")


def test_corpus_is_complete():
    """The corpus holds every shipped parser, postoverflow, scenario, the profiles, the data files they use and
    the pattern files."""
    shipped = {t.rel for t in CORPUS if t.shipped}
    assert sum(r.startswith("scenarios/") for r in shipped) == len(list((SHIPPED / "scenarios").glob("*.yaml")))
    assert {"profiles.yaml", "parsers/s01-parse/sshd-logs.yaml", "postoverflows/s01-whitelist/private-ips.yaml",
            "data/synsec_ua_vuln_scanners.regex.txt"} <= shipped
    assert {t.rel for t in CORPUS if t.rel.startswith("patterns/")} == {
        f"patterns/{p.name}" for p in PATTERNS.iterdir() if p.name != "grokky_base"}


def test_every_corpus_file_mutated(tmp_path):
    """Every corpus file, mutated (CI: one operator each, and two more on shipped files; long: every operator
    on every file), loads to load errors only."""
    mutants = []
    for i, target in enumerate(CORPUS):
        ops = OPS if LONG else [OPS[(i + k) % len(OPS)] for k in range(3 if target.shipped else 1)]
        mutants += [(target, [op], i * 100 + j) for j, op in enumerate(ops)]
    for batch in batches(mutants):
        run_batch(tmp_path / "cfg", batch)


@settings(max_examples=HYPOTHESIS_EXAMPLES, derandomize=not LONG, print_blob=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate],    # no shrinking: the failure message names the mutant
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(CORPUS), st.lists(st.sampled_from(OPS), min_size=1, max_size=4),
                          st.integers(0, 2**32 - 1)), min_size=1, max_size=6))
def test_random_mutations(tmp_path, mutants):
    """Random stacks of 1-4 operators on 1-6 random corpus files loaded together give load errors only."""
    run_batch(tmp_path / "cfg", mutants)
