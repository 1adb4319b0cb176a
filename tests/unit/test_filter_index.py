"""The scenario filter index: the clauses it derives are implied by their filters, and it never drops a match."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synsec.engine.buckets.index import FilterIndex
from synsec.engine.errors import Where
from synsec.engine.expr import ExprContext, compile_predicate
from synsec.engine.expr.codegen import CodeGen
from synsec.engine.expr.requirements import requirement
from synsec.engine.model import Event, Line

W = Where("scenarios/index.yaml", 1, "filter")
CTX = ExprContext(files={"f.txt": ["/etc/passwd", "wp-config.php", "Ab"], "g.txt": ["", "x"]},
                  regexps={"r.txt": ["bot[0-9]+crawler", "evil.*agent"], "loose.txt": ["a|b"]})

FILTERS = [
    "evt.Meta.log_type == 'http_access-log'",
    "evt.Meta.log_type in ['http_access-log', 'http_error-log'] && evt.Meta.http_status in ['404', '403']",
    "Upper(evt.Meta.http_path) contains Upper('/admin') || Upper(evt.Parsed.args) contains 'CMD='",
    "Lower(evt.Meta.http_path) startsWith '/wp-' and evt.Parsed.verb == 'POST'",
    "evt.Meta.http_path endsWith '.php' or evt.Meta.x == 'b'",
    "any(File('f.txt'), {evt.Meta.http_path contains #})",
    "any(File('f.txt'), {Upper(evt.Meta.http_path) contains Upper(#)})",
    "any(File('f.txt'), {evt.Parsed.file == #})",
    "any(File('f.txt'), {Lower(evt.Parsed.file) == Lower(#)})",
    "any(File('g.txt'), {evt.Meta.x contains #})",
    "RegexpInFile(evt.Meta.ua, 'r.txt')",
    "RegexpInFile(evt.Meta.ua, 'loose.txt')",
    "Upper(PathUnescape(evt.Meta.http_path)) contains Upper('${jndi')",
    "evt.Meta.http_path matches '/tmui/login[.]jsp/[^/]+/x'",
    "not (evt.Meta.x contains 'a')",
    "evt.Meta.x contains 'a' || len(evt.Meta.ua) > 3",
    "evt.Meta.x != 'a'",
    "evt.Meta.x contains ''",
]


def _compile(text: str):
    return compile_predicate(text, where=W, ctx=CTX)


def _clause(text: str):
    f = _compile(text)
    return requirement(f.tree, CodeGen(("evt",), f.ctx))


def _atoms(text: str) -> set[tuple[str, str]]:
    return {(a.kind, a.literal) for a in _clause(text)}


def test_prefers_a_selective_clause_to_log_type():
    """Of `log_type in [...] && http_status in [...]`, the status clause is the one indexed."""
    assert _atoms(FILTERS[1]) == {("eq", "404"), ("eq", "403")}


def test_or_unions_and_folds_case_at_load():
    """`Upper(X) contains Upper('/admin') || ...` gives one clause with both literals, folded as Upper folds."""
    assert _atoms(FILTERS[2]) == {("has", "/ADMIN"), ("has", "CMD=")}


def test_data_file_shapes():
    """any(File) over contains/==/Upper-folded lines gives one atom per line."""
    assert _atoms(FILTERS[5]) == {("has", "/etc/passwd"), ("has", "wp-config.php"), ("has", "Ab")}
    assert _atoms(FILTERS[6]) == {("has", "/ETC/PASSWD"), ("has", "WP-CONFIG.PHP"), ("has", "AB")}
    assert _atoms(FILTERS[8]) == {("eq", "/etc/passwd"), ("eq", "wp-config.php"), ("eq", "ab")}


def test_regex_literals():
    """`matches` and RegexpInFile give the literal every match contains; a pattern without one gives nothing."""
    assert _atoms(FILTERS[10]) == {("has", "crawler"), ("has", "agent")}
    assert _clause(FILTERS[11]) is None
    assert _atoms(FILTERS[13]) == {("has", "/tmui/login")}


@pytest.mark.parametrize("text", [FILTERS[9], FILTERS[14], FILTERS[15], FILTERS[16], FILTERS[17]])
def test_no_clause_when_unsound(text):
    """An empty literal, `not`, `!=`, or an `or` with an opaque side yields no clause (always a candidate)."""
    assert _clause(text) is None


values = st.sampled_from(["", "a", "b", "/admin", "/ADMIN/x", "cmd=1", "/wp-login", "POST", "x.php",
                          "/etc/passwd", "WP-CONFIG.PHP", "ab", "%24%7Bjndi", "${JNDI:", "bot12crawler",
                          "evil-agent", "http_access-log", "404", "403", "/tmui/login.jsp/..;/x", "%zz"])
events = st.fixed_dictionaries({
    "meta": st.dictionaries(st.sampled_from(["log_type", "http_status", "http_path", "x", "ua"]), values),
    "parsed": st.dictionaries(st.sampled_from(["verb", "args", "file"]), values),
})


def _event(d) -> Event:
    e = Event(Line(""))
    e.Meta.update(d["meta"])
    e.Parsed.update(d["parsed"])
    return e


COMPILED = [_compile(t) for t in FILTERS]
INDEX = FilterIndex(COMPILED)


@settings(max_examples=400, deadline=None)
@given(events)
def test_candidates_cover_every_true_filter(d):
    """Every filter that is true for an event is among the index's candidates for it."""
    evt = _event(d)
    mask = INDEX.candidates(evt)
    for i, f in enumerate(COMPILED):
        if f(evt) is True:
            assert mask >> i & 1, f"{FILTERS[i]!r} is true but was not a candidate for {d}"


def test_index_skips_filters_that_cannot_match():
    """An event with none of the literals makes only clause-less filters candidates."""
    evt = _event({"meta": {"log_type": "syslog", "http_path": "/index.html"}, "parsed": {"verb": "GET"}})
    mask = INDEX.candidates(evt)
    assert mask == INDEX.always
    assert INDEX.always == sum(1 << i for i in (9, 11, 14, 15, 16, 17))
    assert INDEX.indexed == len(FILTERS) - 6


def test_opaque_callables_are_always_candidates():
    """A filter given as a plain callable (no syntax tree) is never skipped."""
    idx = FilterIndex([lambda evt: True, None, _compile(FILTERS[0])])
    assert idx.candidates(_event({"meta": {}, "parsed": {}})) == 0b011


# Fields with more than four substring literals are matched with a regex set: Rust's (alternation + RegexSet)
# when the binding is present, RE2's otherwise. Both must keep every true filter a candidate.
MANY = ["/etc/passwd", "wp-config", ".env", "Ab", "é漢", "x.y", "a|b", "(", "\\", "[x]", "${JNDI"]
SET_CTX = ExprContext(files={"many.txt": MANY})
SET_FILTERS = ["any(File('many.txt'), {evt.Meta.http_path contains #})",
               "any(File('many.txt'), {Upper(evt.Meta.x) contains Upper(#)})",
               "evt.Meta.ua contains 'x.y' || evt.Meta.ua contains '(' || evt.Meta.ua contains 'a' || "
               "evt.Meta.ua contains '[x]' || evt.Meta.ua contains 'q'"]
SET_COMPILED = [compile_predicate(t, where=W, ctx=SET_CTX) for t in SET_FILTERS]


def _set_indexes():
    import synsec.engine.buckets.index as index_module

    rust = FilterIndex(SET_COMPILED)
    binding, index_module.paula = index_module.paula, None
    try:
        re2_only = FilterIndex(SET_COMPILED)
    finally:
        index_module.paula = binding
    return {"rust": rust, "re2": re2_only}


SET_INDEXES = _set_indexes()
set_values = st.lists(st.sampled_from(MANY + ["", "A", "/ETC/PASSWD", "É漢", "x", "y", "q", "\udcff", "-"]),
                      max_size=4).map("".join)


def test_set_fields_are_built_on_both_engines():
    """Both indexes match these fields with a set (the property below would otherwise test plain `in` only)."""
    for idx in SET_INDEXES.values():
        assert {"_set0", "_set1", "_set2"} <= set(idx.candidates.__globals__)


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({"meta": st.fixed_dictionaries({"http_path": set_values, "x": set_values,
                                                             "ua": set_values}), "parsed": st.just({})}))
def test_set_candidates_cover_every_true_filter_on_both_engines(d):
    """With Rust's or RE2's sets, lone surrogates included, every true filter is a candidate."""
    evt = _event(d)
    for engine, idx in SET_INDEXES.items():
        mask = idx.candidates(evt)
        for i, f in enumerate(SET_COMPILED):
            if f(evt) is True:
                assert mask >> i & 1, f"{engine}: {SET_FILTERS[i]!r} true but not a candidate for {d}"


def _memo_free(compiled):
    """The same index with its memo off (every member value longer than the memo takes)."""
    import synsec.engine.buckets.index as index_module

    limit, index_module._MEMO_TEXT = index_module._MEMO_TEXT, -1
    try:
        return FilterIndex(compiled)
    finally:
        index_module._MEMO_TEXT = limit


GROUPED = FILTERS + ["Sprintf('%s%s', evt.Meta.http_path, evt.Meta.x) contains 'ab'",   # two members: no group
                     "Lower(evt.Meta.ua) == 'evil-agent' and QueryUnescape(evt.Meta.ua) contains 'bot'"]
GROUPED_COMPILED = [_compile(t) for t in GROUPED]
GROUPED_INDEXES = (FilterIndex(GROUPED_COMPILED), _memo_free(GROUPED_COMPILED))
long_values = st.one_of(values, values.map(lambda v: v * 40))        # some past the memo's text limit


@settings(max_examples=400, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "meta": st.dictionaries(st.sampled_from(["log_type", "http_status", "http_path", "x", "ua"]), long_values),
    "parsed": st.dictionaries(st.sampled_from(["verb", "args", "file"]), long_values)}), min_size=1, max_size=6))
def test_memoised_masks_equal_computed_ones(ds):
    """A group's mask taken from the memo (member values seen before) is the mask computed afresh."""
    memo, fresh = GROUPED_INDEXES
    for d in ds:
        evt = _event(d)
        assert memo.candidates(evt) == fresh.candidates(evt), d


def test_fields_of_one_member_share_a_memo():
    """The fields over `evt.Meta.http_path` (plain, Upper, Lower, Upper(PathUnescape)) share one memo keyed by
    the path; the field over two members (Sprintf of http_path and x) is memoised by neither."""
    idx = FilterIndex(GROUPED_COMPILED)
    memos = {k: v for k, v in idx.candidates.__globals__.items() if k.startswith("_memo")}
    idx.candidates(_event({"meta": {"http_path": "/wp-x", "x": "q"}, "parsed": {}}))
    assert [k for k, memo in memos.items() if "/wp-x" in memo] != []
    assert not any("q" in memo for memo in memos.values())
    assert len([k for k, memo in memos.items() if "/wp-x" in memo]) == 1
