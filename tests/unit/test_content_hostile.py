"""Hostile content cannot hurt the loader: every finding of issue 10 (content part) as a named regression test.

Each test loads a small content directory through `load_content` (the entry point of `ccscli lint` and
replay) and checks that the problem is a load error naming `path:line: field`, never another exception.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from synsec.content.loader import load_content
from synsec.content.yamlload import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from synsec.engine.errors import ErrorCollector, LoadErrors

SCENARIO = """type: leaky
name: test/x
description: d
filter: "evt.Meta.log_type == 'a'"
groupby: evt.Meta.source_ip
capacity: 5
leakspeed: 10s
labels:
  remediation: true
"""
PARSER = "name: test/p\nfilter: \"evt.Line.Labels.type == 'a'\"\nonsuccess: next_stage\n"


def load(tmp_path: Path, files: dict[str, str | bytes], data: dict[str, str] | None = None):
    """Write files under tmp_path/cfg, load them; (content, errors as 'path:line: field: message' strings)."""
    cfg = tmp_path / "cfg"
    (cfg / "data").mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        p = cfg / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
    for rel, text in (data or {}).items():
        (cfg / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (cfg / "data" / rel).write_text(text)
    errors = ErrorCollector()
    content = load_content(cfg, errors=errors)
    return content, [str(e) for e in errors.errors]


def one_error(errors: list[str], path_end: str, line: int, field: str) -> str:
    """The single error; it names path:line: field."""
    assert len(errors) == 1, errors
    m = re.match(r"^(.*?):(\d+): ([^:]+): ", errors[0])
    assert m, errors[0]
    assert m.group(1).endswith(path_end) and int(m.group(2)) == line and m.group(3) == field, errors[0]
    return errors[0]


def test_data_file_traversal_is_a_load_error(tmp_path):
    """`dest_file: ../../../../etc/passwd` is refused at data[0].dest_file; /etc/passwd is never read."""
    text = SCENARIO + "data:\n  - dest_file: ../../../../etc/passwd\n    type: string\n"
    content, errors = load(tmp_path, {"scenarios/a.yaml": text})
    msg = one_error(errors, "scenarios/a.yaml", 11, "data[0].dest_file")
    assert "outside the data directory" in msg
    assert content.expr_ctx.files == {}


def test_file_helper_traversal_is_a_load_error_at_its_expression(tmp_path):
    """`File('../../../../etc/passwd')` in a filter is a load error at the filter; no line of it reaches any meta."""
    text = (SCENARIO.replace("evt.Meta.log_type == 'a'", "evt.Meta.log_type in File('../../../../etc/passwd')")
            + "data:\n  - dest_file: ../../../../etc/passwd\n    type: string\n")
    content, errors = load(tmp_path, {"scenarios/a.yaml": text})
    assert any(e.startswith(f"{tmp_path}/cfg/scenarios/a.yaml:4: filter: ") for e in errors), errors
    assert any(":11: data[0].dest_file: " in e for e in errors), errors
    assert content.scenarios == [] and not any("root:" in x for v in content.expr_ctx.files.values() for x in v)


def test_data_file_absolute_path_outside_data_dir_is_a_load_error(tmp_path):
    """An absolute dest_file outside the data dir is refused; one inside it loads."""
    inside = tmp_path / "cfg" / "data" / "in.txt"
    text = SCENARIO + f"data:\n  - dest_file: /etc/passwd\n    type: string\n  - dest_file: {inside}\n"
    content, errors = load(tmp_path, {"scenarios/a.yaml": text}, {"in.txt": "ok\n"})
    one_error(errors, "scenarios/a.yaml", 11, "data[0].dest_file")
    assert content.expr_ctx.files == {str(inside): ["ok"]}


def test_data_file_symlink_out_of_data_dir_is_a_load_error(tmp_path):
    """A data file that is a symlink leading out of the data dir is refused (the resolved path counts)."""
    (tmp_path / "cfg" / "data").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("secret\n")
    os.symlink(tmp_path / "secret.txt", tmp_path / "cfg" / "data" / "link.txt")
    content, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "data:\n  - dest_file: link.txt\n"})
    one_error(errors, "scenarios/a.yaml", 11, "data[0].dest_file")
    assert content.expr_ctx.files == {}


def test_data_file_in_a_subdirectory_loads(tmp_path):
    """A dest_file in a subdirectory of the data dir (or with a `..` that stays inside) is read."""
    text = SCENARIO + "data:\n  - dest_file: sub/x.txt\n  - dest_file: sub/../y.txt\n"
    content, errors = load(tmp_path, {"scenarios/a.yaml": text}, {"sub/x.txt": "a\n#c\nb\n", "y.txt": "y"})
    assert errors == [] and content.expr_ctx.files == {"sub/x.txt": ["a", "b"], "sub/../y.txt": ["y"]}


def test_missing_data_file_names_line_and_field(tmp_path):
    """A data file found in no data dir is an error at data[0].dest_file with its line."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "data:\n  - dest_file: nope.txt\n"})
    assert "not found" in one_error(errors, "scenarios/a.yaml", 11, "data[0].dest_file")


def test_unhashable_yaml_key_is_a_load_error(tmp_path):
    """`? [a, b]` (a list as mapping key) is a load error, not a TypeError."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "? [a, b]\n: 1\n"})
    assert "key must be a string" in one_error(errors, "scenarios/a.yaml", 10, "(document)")


def test_null_yaml_key_is_a_load_error_with_its_line(tmp_path):
    """`~: 1` is refused at its own line (it used to say `unknown field None` at line 1)."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "~: 1\n"})
    one_error(errors, "scenarios/a.yaml", 10, "(document)")


def test_deep_yaml_nesting_is_a_load_error(tmp_path):
    """5,000 nested `[` is a load error (depth cap), not a RecursionError; MAX_DEPTH levels still load."""
    deep = "[" * 5000 + "]" * 5000
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + f"  deep: {deep}\n"})
    assert len(errors) == 1 and re.match(r".*a\.yaml:10: labels\.deep\[0\]\S*…\S*\[0\]: nested deeper", errors[0])
    ok = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + f"  deep: {ok}\n"})
    assert errors == []


def test_control_character_is_a_load_error(tmp_path):
    """A `\\x07` in a file is a load error naming its line, not a yaml ReaderError."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "author: a\x07b\n"})
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path}/cfg/scenarios/a.yaml:10: ") and "x07" in errors[0]


def test_invalid_utf8_is_a_load_error(tmp_path):
    """Bytes that are not UTF-8 are a load error with their line, not silently replaced."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO.encode() + b"author: \xff\n"})
    assert len(errors) == 1 and ":10: " in errors[0] and "not UTF-8" in errors[0]


def test_file_over_size_cap_is_a_load_error(tmp_path):
    """A content file over MAX_FILE_BYTES is refused before it is parsed."""
    big = SCENARIO + "references:\n" + "  - x\n" * (MAX_FILE_BYTES // 6 + 1)
    _, errors = load(tmp_path, {"scenarios/a.yaml": big})
    assert len(errors) == 1 and "larger than" in errors[0] and ":1: " in errors[0]


def test_stash_size_of_wrong_type_is_a_load_error(tmp_path):
    """`stash: size: lots` is a load error at stash[0].size, not a ValueError."""
    text = PARSER + "stash:\n  - name: s\n    key: evt.Meta.x\n    value: evt.Meta.y\n    ttl: 10s\n    size: lots\n"
    _, errors = load(tmp_path, {"parsers/s01-parse/p.yaml": text})
    one_error(errors, "p.yaml", 9, "stash[0].size")


def test_yaml_date_in_labels_stays_a_json_string(tmp_path):
    """A YAML date in labels stays a string (as CrowdSec's yaml.v3 reads it), so labels serialise to JSON."""
    content, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "  when: 2024-01-01\n  at: 2024-01-01T10:00:00Z\n"})
    assert errors == []
    labels = dict(content.scenarios[0].labels)
    assert labels["when"] == "2024-01-01" and json.loads(json.dumps(labels)) == labels


@pytest.mark.parametrize("value", ["!!binary aGVsbG8=", "!!set {a: null}", "!!omap [a: 1]", "!!python/name:os.system",
                                   "!custom x"])
def test_non_plain_yaml_tag_in_labels_is_a_load_error(tmp_path, value):
    """`!!binary`, `!!set`, `!!omap` and application tags are refused at their field."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + f"  blob: {value}\n"})
    assert "is not allowed" in one_error(errors, "scenarios/a.yaml", 10, "labels.blob")


@pytest.mark.parametrize("value", [".nan", ".inf", "[1, .inf]"])
def test_non_finite_number_in_labels_is_a_load_error(tmp_path, value):
    """Labels must be JSON values: NaN and infinities are refused at load, not when an alert is stored."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + f"  x: {value}\n"})
    assert "not a JSON value" in one_error(errors, "scenarios/a.yaml", 8, "labels")


def test_static_value_of_wrong_type_is_a_load_error(tmp_path):
    """A static's value must be a scalar: a mapping is refused at statics[0].value."""
    text = PARSER + "statics:\n  - meta: x\n    value: {a: b}\n"
    _, errors = load(tmp_path, {"parsers/s01-parse/p.yaml": text})
    one_error(errors, "p.yaml", 6, "statics[0].value")


def test_anchor_bomb_is_a_load_error(tmp_path):
    """A "billion laughs" in labels is refused while the YAML is composed (node cap), not a MemoryError."""
    rows = ["labels:", "  a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        rows.append(f"  {name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    text = SCENARIO.replace("labels:\n  remediation: true\n", "\n".join(rows) + "\n")
    _, errors = load(tmp_path, {"scenarios/a.yaml": text})
    assert len(errors) == 1 and f"more than {MAX_NODES} YAML nodes" in errors[0] and "labels." in errors[0]


def test_recursive_alias_is_a_load_error(tmp_path):
    """An alias inside its own anchor (`&r [*r]`) is refused, never a recursive structure."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "  r: &r [*r]\n"})
    assert "contains it" in one_error(errors, "scenarios/a.yaml", 10, "labels.r[0]")


def test_huge_integer_is_a_load_error(tmp_path):
    """An integer of 5,000 digits is a load error at its field, not a ValueError."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO.replace("capacity: 5", "capacity: " + "9" * 5000)})
    one_error(errors, "scenarios/a.yaml", 6, "capacity")


def test_scalar_where_a_list_of_nodes_is_expected_names_its_line(tmp_path):
    """`nodes: 3` is an error at nodes[0] with the line of `nodes` (it used to have no line)."""
    _, errors = load(tmp_path, {"parsers/s01-parse/p.yaml": PARSER + "nodes: 3\n"})
    one_error(errors, "p.yaml", 4, "nodes[0]")


def test_profile_duration_error_names_path_line_field(tmp_path):
    """A bad decision duration in profiles.yaml is a load error at decisions[0].duration."""
    text = "name: p\nfilters:\n  - Alert.Remediation == true\ndecisions:\n  - type: ban\n    duration: 4 parsecs\n"
    _, errors = load(tmp_path, {"profiles.yaml": text})
    one_error(errors, "profiles.yaml", 6, "decisions[0].duration")


def test_one_bad_file_does_not_hide_other_files_errors(tmp_path):
    """Errors of every file are collected in one pass: a YAML crasher in one file, a bad field in others."""
    files = {"scenarios/a.yaml": SCENARIO + "? [a]\n: 1\n",
             "scenarios/b.yaml": SCENARIO.replace("test/x", "test/b") + "bogus: 1\n",
             "parsers/s01-parse/p.yaml": PARSER + "stash:\n  - {name: s, key: a, value: b, size: lots}\n",
             "profiles.yaml": "name: p\ndecisions:\n  - duration: nope\n"}
    with pytest.raises(LoadErrors) as caught:
        cfg = tmp_path / "cfg"
        for rel, text in files.items():
            (cfg / rel).parent.mkdir(parents=True, exist_ok=True)
            (cfg / rel).write_text(text)
        load_content(cfg)
    names = {Path(e.where.path).name for e in caught.value.errors}
    assert names == {"a.yaml", "b.yaml", "p.yaml", "profiles.yaml"}
    assert all(e.where.line >= 1 and e.where.field for e in caught.value.errors), caught.value


def test_fifo_named_yaml_is_a_load_error(tmp_path):
    """A FIFO named like a content file is refused without opening it (opening would block forever)."""
    (tmp_path / "cfg" / "scenarios").mkdir(parents=True)
    os.mkfifo(tmp_path / "cfg" / "scenarios" / "f.yaml")
    _, errors = load(tmp_path, {})
    assert len(errors) == 1 and "not a regular file" in errors[0]


def test_symlink_loop_in_content_dir_reads_each_file_once(tmp_path):
    """A directory symlink to its parent is followed once: each scenario is loaded once, not 40 times."""
    (tmp_path / "cfg" / "scenarios").mkdir(parents=True)
    os.symlink(tmp_path / "cfg" / "scenarios", tmp_path / "cfg" / "scenarios" / "loop")
    content, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO})
    assert errors == [] and len(content.scenarios) == 1


def test_lint_reports_crashers_of_every_file_without_traceback(tmp_path):
    """`ccscli lint` reports the crashers of several files in one run, exit 1, no traceback."""
    from synsec.cli.ccscli import ccscli

    cfg = tmp_path / "cfg"
    (cfg / "scenarios").mkdir(parents=True)
    (cfg / "scenarios" / "a.yaml").write_text(SCENARIO + "? [a]\n: 1\n")
    (cfg / "scenarios" / "b.yaml").write_text(SCENARIO + "x: " + "[" * 5000 + "\n")
    (cfg / "scenarios" / "c.yaml").write_text(SCENARIO + "data:\n  - dest_file: ../../../../etc/passwd\n")
    res = CliRunner().invoke(ccscli, ["--config-dir", str(cfg), "lint", "-o", "json"])
    assert res.exit_code == 1 and res.exception is None or isinstance(res.exception, SystemExit), res.output
    errors = json.loads(res.stdout)["errors"]
    assert {Path(e["path"]).name for e in errors} == {"a.yaml", "b.yaml", "c.yaml"}
    assert all(e["line"] >= 1 for e in errors)


@pytest.mark.parametrize("value", ["!!seq x.txt", "!!map x.txt", "!!bool maybe", "!!int ''", "!!int '-'",
                                   "!!float abc"])
def test_explicit_tag_on_a_value_of_the_wrong_kind_is_a_load_error(tmp_path, value):
    """Fuzz finding: `!!seq x` (AttributeError), `!!bool maybe` (KeyError), `!!int ''` (IndexError) are load
    errors at their field."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + f"  x: {value}\n"})
    one_error(errors, "scenarios/a.yaml", 10, "labels.x")


def test_empty_key_names_a_field(tmp_path):
    """Fuzz finding: an unknown empty key `'': 1` is reported with a field name (`''`), not an empty one."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "'': 1\n"})
    one_error(errors, "scenarios/a.yaml", 10, "''")


def test_yaml_syntax_error_names_the_field_being_read(tmp_path):
    """A YAML syntax error inside a value names that field (and the document when at top level)."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "  bad: [a, b\n"})
    assert len(errors) == 1 and ": labels.bad: invalid YAML" in errors[0], errors


def test_out_of_range_durations_are_load_errors_at_their_field(tmp_path):
    """Durations beyond 10 years (engine.durations' bound) surface as load errors at path:line: field."""
    scen = SCENARIO.replace("leakspeed: 10s", "leakspeed: 99999999999999999999h")
    profile = "name: p\ndecisions:\n  - type: ban\n    duration: 87601h\n"
    _, errors = load(tmp_path, {"scenarios/a.yaml": scen, "profiles.yaml": profile})
    places = {tuple(re.sub(r"^.*/", "", e).split(": ")[:2]) for e in errors if "87600h" in e}
    assert places == {("a.yaml:7", "leakspeed"), ("profiles.yaml:4", "decisions[0].duration")}, errors


def test_node_cap_refuses_at_the_first_node_too_many(tmp_path, monkeypatch):
    """A file of more list items (or documents) than the node cap is refused at the node that passes it,
    before the rest is read (a 4 MiB list took 80 s when the cap was checked once the list was complete).
    The cap is lowered to 1,000 to keep the test fast."""
    from synsec.content import yamlload

    monkeypatch.setattr(yamlload, "MAX_NODES", 1_000)
    items = "references:\n" + "  - x\n" * 50_000
    docs = "--- 1\n" * 50_000
    _, errors = load(tmp_path, {"scenarios/a.yaml": items, "scenarios/b.yaml": docs})
    assert len(errors) == 2 and all("more than 1000 YAML nodes" in e for e in errors), errors
    lines = sorted(int(re.match(r".*?:(\d+): ", e).group(1)) for e in errors)
    assert 995 <= lines[0] <= lines[1] <= 1_005, lines


def test_bad_pattern_file_does_not_hide_parser_errors(tmp_path):
    """A malformed line in a pattern file is reported at path:line: field and the parsers are still checked
    (the whole library used to be dropped, so no parser error was reported)."""
    shipped = Path(__file__).resolve().parents[2] / "scenarios" / "patterns"
    files = {f"patterns/{p.name}": p.read_text() for p in shipped.iterdir() if p.name != "grokky_base"}
    files["patterns/ssh"] += "-bad- line\n"
    files["parsers/s01-parse/p.yaml"] = PARSER + "grok:\n  pattern: '%{NOPE:x}'\n  apply_on: message\n"
    _, errors = load(tmp_path, files)
    assert any("/patterns/ssh:" in e and ": (line): expected 'NAME REGEX'" in e for e in errors), errors
    assert any("p.yaml:5: grok.pattern: " in e and "NOPE" in e for e in errors), errors


def test_grok_expansion_bomb_is_a_load_error(tmp_path):
    """pattern_syntax B1..B39, each `%{B<n-1>}%{B<n-1>}`, is refused once the expansion passes MAX_EXPANSION
    characters (2^40 characters: ccscli lint ran out of time and memory), at the first entry that does (each
    entry is compiled as it is added, as grokky does)."""
    from synsec.engine.grok.expand import MAX_EXPANSION

    syntax = "".join(f"  B{i}: '%{{B{i - 1}}}%{{B{i - 1}}}'\n" for i in range(1, 40))
    text = PARSER + "pattern_syntax:\n  B0: 'ab'\n" + syntax + "grok:\n  pattern: '%{B39:x}'\n  apply_on: message\n"
    _, errors = load(tmp_path, {"parsers/s01-parse/p.yaml": text})
    m = re.search(r"p\.yaml:(\d+): pattern_syntax\.B(\d+): ", errors[0])
    assert m and int(m.group(1)) == 5 + int(m.group(2)) and 10 < int(m.group(2)) < 39, errors   # B<n>'s own line
    error = one_error(errors, "p.yaml", int(m.group(1)), f"pattern_syntax.B{m.group(2)}")
    assert f"expands to more than {MAX_EXPANSION} characters" in error


def test_data_file_name_too_long_is_a_load_error(tmp_path):
    """Fuzz finding: a dest_file of 20,000 characters was an OSError (ENAMETOOLONG) out of Path.is_file."""
    _, errors = load(tmp_path, {"scenarios/a.yaml": SCENARIO + "data:\n  - dest_file: " + "a" * 20_000 + "\n"})
    assert "invalid data file name" in one_error(errors, "scenarios/a.yaml", 11, "data[0].dest_file")


def test_onsuccess_continue_loads_and_an_empty_node_is_refused(tmp_path):
    """As CrowdSec's node validation: `onsuccess: continue` is valid (it behaves like none), another word is an
    error; a node with no grok, no nodes, no statics and no whitelist entry ("Node is empty": a filter, a stash
    or a reason alone) is an error at its line, also a child node."""
    grok = "grok:\n  pattern: '^x%{DATA:extr}$'\n  apply_on: Line.Raw\n"
    content, errors = load(tmp_path / "a", {"parsers/s01-parse/p.yaml": "name: t\nonsuccess: continue\n" + grok})
    assert errors == [] and len(content.parser_nodes) == 1 and not content.parser_nodes[0].next_stage
    _, errors = load(tmp_path / "b", {"parsers/s01-parse/p.yaml": "name: t\nonsuccess: ratata\n" + grok})
    one_error(errors, "p.yaml", 2, "onsuccess")
    for i, text in enumerate((PARSER, "name: t\nwhitelist:\n  reason: r\n",
                              "name: t\nstash:\n  - {name: s, key: evt.Line.Raw, value: evt.Line.Raw}\n")):
        _, errors = load(tmp_path / f"c{i}", {"parsers/s01-parse/p.yaml": text})
        assert "node is empty" in one_error(errors, "p.yaml", 1, "(document)"), text
    _, errors = load(tmp_path / "d", {"parsers/s01-parse/p.yaml": PARSER + grok + "nodes:\n  - filter: 'true'\n"})
    assert "node is empty" in one_error(errors, "p.yaml", 8, "nodes[0]")


def test_pattern_syntax_is_checked_as_each_pattern_is_added(tmp_path):
    """grokky compiles a pattern_syntax entry when it is added: a regex that does not compile, or a reference to
    a pattern defined only later, is a load error at that entry even when no grok uses it; a reference to an
    earlier entry loads."""
    grok = "grok:\n  pattern: '^x%{DATA:extr}$'\n  apply_on: Line.Raw\n"
    _, errors = load(tmp_path / "a", {"parsers/s01-parse/p.yaml": "name: t\npattern_syntax:\n  BAD: '[a-$'\n" + grok})
    assert "does not compile" in one_error(errors, "p.yaml", 3, "pattern_syntax.BAD")
    later = "name: t\npattern_syntax:\n  ONE_T: 'a%{TWO_T}'\n  TWO_T: 'b'\n" + grok
    _, errors = load(tmp_path / "b", {"parsers/s01-parse/p.yaml": later})
    assert "TWO_T" in one_error(errors, "p.yaml", 3, "pattern_syntax.ONE_T")
    earlier = "name: t\npattern_syntax:\n  TWO_T: 'b'\n  ONE_T: 'a%{TWO_T}'\n" + grok.replace("DATA", "ONE_T")
    content, errors = load(tmp_path / "c", {"parsers/s01-parse/p.yaml": earlier})
    assert errors == [] and len(content.parser_nodes) == 1
