"""Fuzz of LibInjectionIsSQLI / LibInjectionIsXSS: any text, made of SQL and HTML pieces, quotes, comments and
control characters, gives a bool and never raises; and both stay linear: 4× the text costs about 4× the time,
on texts built to make a careless scanner rescan (unclosed quotes, comments, tags, entities).
CI mode is derandomized and bounded (a few seconds); `SYNSEC_FUZZ_LONG=1` runs many more examples."""

from __future__ import annotations

import os
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synsec.engine.expr.libinjection import is_sqli, is_xss

LONG = os.environ.get("SYNSEC_FUZZ_LONG") == "1"
EXAMPLES = 5000 if LONG else 300
PIECES = ["'", '"', "`", "\\", "--", "#", "/*", "*/", "/*!500", " OR ", " AND ", "1=1", "UNION", " SELECT ", "(",
          ")", ";", ",", "@@", "0x7e", "sleep(", "<", ">", "</", "<script", "<svg", " onload=", " href=", "javascript:",
          "&#106;", "&#x", "<!--", "-->", "<!", "<?", "=", " ", "\t", "\n", "\x00", "é", "\u202e", "a", "9"]
text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=40).map("".join)


@settings(max_examples=EXAMPLES, derandomize=not LONG, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(text)
def test_any_text_gives_a_bool(s):
    assert is_sqli(s) in (True, False)
    assert is_xss(s) in (True, False)


def _cost(fn, s: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        fn(s)
        best = min(best, time.process_time() - start)
    return best


def test_linear_on_texts_made_to_rescan():
    """Quadratic scanning would cost 16× for 4× the text; linear costs ~4× (allowed: under 9×)."""
    shapes = ["'" + "a" * 7, "/*" + "x" * 6, "<a " + "b=" * 3, "<!--" + "x" * 4, "&#" + "1" * 6, "1=" * 4,
              "<a href='" + "x" * 3, "\\'" * 4, "<" * 8, "x onclick" * 2]
    n = 20_000 if not LONG else 80_000
    for shape in shapes:
        for fn in (is_sqli, is_xss):
            small = (shape * (n // len(shape) + 1))[:n]
            big = (shape * (4 * n // len(shape) + 1))[:4 * n]
            t1, t4 = _cost(fn, small), _cost(fn, big)
            assert t4 < 9 * max(t1, 2e-3), (shape, fn.__name__, t1, t4)
