"""synsec.metrics: labelled counters, Prometheus text rendering and parsing; the engine's counters as families."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synsec.metrics import Counters, MetricsParseError, Sample, merge_samples, parse, render_samples


def test_render_parse_round_trip_with_help_and_types():
    """What render() writes, parse() reads back as the same samples, kinds and help texts."""
    c = Counters()
    c.declare("synsec_bucket_poured_total", "Events poured, by scenario.", ("scenario",))
    c.inc("synsec_bucket_poured_total", scenario="synsec/ssh-bf")
    c.inc("synsec_bucket_poured_total", 4, scenario="synsec/ssh-bf")
    c.inc("synsec_bucket_poured_total", scenario="synsec/http-probing")
    c.set("synsec_buckets", 2.5, scenario="a")
    c.collect("synsec_live", "Computed at render.", ("k",), lambda: [(("x",), 7)])
    text = c.render()
    meta: dict = {}
    assert parse(text, meta) == c.samples()
    assert meta == {"synsec_bucket_poured_total": ("counter", "Events poured, by scenario."),
                    "synsec_buckets": ("gauge", ""), "synsec_live": ("gauge", "Computed at render.")}
    assert 'synsec_bucket_poured_total{scenario="synsec/ssh-bf"} 5\n' in text
    assert c.value("synsec_bucket_poured_total", scenario="synsec/ssh-bf") == 5


def test_label_values_and_help_are_escaped():
    """Backslash, double quote and newline in a label value or help text survive rendering and parsing."""
    nasty = 'a\\b"c\nd}e,f="g'
    c = Counters()
    c.declare("x_total", "help with \\ and\nnewline", ("source",))
    c.inc("x_total", source=nasty)
    text = c.render()
    assert '{source="a\\\\b\\"c\\nd}e,f=\\"g"}' in text and text.count("\n") == 3
    meta: dict = {}
    assert parse(text, meta) == [Sample("x_total", (("source", nasty),), 1)]
    assert meta["x_total"] == ("counter", "help with \\ and\nnewline")


@given(st.lists(st.tuples(st.text(max_size=12), st.integers(0, 10 ** 12)), max_size=8))
def test_round_trip_property(pairs):
    """Any label text (unicode, controls, quotes) and any count round-trips through the text format."""
    c = Counters()
    c.declare("p_total", "", ("v",))
    for label, n in pairs:
        c.inc("p_total", n, v=label)
    assert parse(c.render()) == c.samples()


def test_parse_reads_prometheus_text_from_other_exporters():
    """Timestamps, untyped samples, special floats, spaces and plain comments are accepted."""
    text = ("# a comment\n# TYPE up untyped\nup 1 1700000000000\n"
            'http_requests_total{method="post",code="200"} 1027\n'
            "x +Inf\ny -Inf\nz NaN\nw 1.5e3\n"
            'v{ a="1" , } 2\n')
    samples = parse(text)
    assert samples[0] == Sample("up", (), 1.0)
    assert samples[1].get("code") == "200" and samples[1].value == 1027
    assert [s.value for s in samples[2:4]] == [math.inf, -math.inf] and math.isnan(samples[4].value)
    assert samples[5].value == 1500 and samples[6] == Sample("v", (("a", "1"),), 2)


@pytest.mark.parametrize("line", ['x{a="1"', 'x{a=1} 2', "x 1 2 3", "x", "x abc", 'x{a="\\q"} 1',
                                  '9x 1', 'x{a="1"}2', "# TYPE 9bad counter"])
def test_malformed_text_is_a_clear_error(line):
    """A malformed line raises MetricsParseError naming its line number."""
    with pytest.raises(MetricsParseError, match=r"^line 2: "):
        parse("ok 1\n" + line + "\n")


def test_counters_refuse_wrong_labels_and_decreasing_counters():
    """inc() with other label names, a negative counter step or a bad metric name is an error."""
    c = Counters()
    c.declare("a_total", "", ("source",))
    with pytest.raises(ValueError, match="takes labels"):
        c.inc("a_total", scenario="x")
    with pytest.raises(ValueError, match="cannot decrease"):
        c.inc("a_total", -1, source="x")
    with pytest.raises(ValueError, match="invalid metric name"):
        c.declare("bad-name")
    with pytest.raises(ValueError, match="already declared"):
        c.declare("a_total", "", ("other",))
    c.inc("auto_total", b="2", a="1")                      # undeclared: a counter, labels sorted
    assert c.samples()[-1] == Sample("auto_total", (("a", "1"), ("b", "2")), 1)


def test_merge_and_render_samples():
    """Samples with the same name and labels (in any order) from several endpoints are added up."""
    a = [Sample("n_total", (("x", "1"), ("y", "2")), 3), Sample("m", (), 1)]
    b = [Sample("n_total", (("y", "2"), ("x", "1")), 4)]
    merged = merge_samples(a, b)
    assert merged == [Sample("n_total", (("x", "1"), ("y", "2")), 7), Sample("m", (), 1)]
    text = render_samples(merged, {"n_total": ("counter", "N.")})
    assert text.splitlines() == ["# HELP n_total N.", "# TYPE n_total counter", 'n_total{x="1",y="2"} 7',
                                 "# TYPE m untyped", "m 1"]
