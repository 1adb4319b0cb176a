"""Parser and postoverflow YAML (CrowdSec grammar) → compiled `synsec.engine.parser.Node` trees.

Two phases, so data files can be loaded before any expression that reads them compiles:
`read_parser_docs` decodes YAML (collecting errors), `compile_parser_docs` builds the nodes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from synsec.content.datafiles import DataEntry
from synsec.content.spec import Doc, check_keys, get_bool, get_int, get_list, get_map, get_str
from synsec.content.yamlload import PosDict, kind_of, line_of, load_documents
from synsec.engine.errors import ErrorCollector, LoadError, Where
from synsec.engine.durations import DurationError, parse_duration
from synsec.engine.parser import GrokStep, Node, Static, Stash, Whitelist

__all__ = ["ParserDoc", "read_parser_docs", "compile_parser_docs", "data_entries", "NODE_KEYS"]

NODE_KEYS = frozenset({"format", "onsuccess", "debug", "profiling", "name", "author", "description",
                       "references", "stage", "filter", "whitelist", "grok", "statics", "stash", "nodes",
                       "pattern_syntax", "data"})
GROK_KEYS = frozenset({"pattern", "name", "apply_on", "expression", "statics"})
STATIC_KEYS = frozenset({"meta", "parsed", "enriched", "target", "method", "value", "expression"})
WHITELIST_KEYS = frozenset({"reason", "ip", "cidr", "expression"})
STASH_KEYS = frozenset({"name", "key", "value", "ttl", "size", "strategy"})
DATA_KEYS = frozenset({"source_url", "dest_file", "type", "cache", "strategy", "size", "ttl"})
DATA_CACHE_STRATEGIES = ("LRU", "LFU", "ARC")
MAX_DATA_CACHE_SIZE = 1_000_000   # entries of a regexp data file's match cache (the hub uses 20 to 40)


@dataclass
class ParserDoc:
    """One YAML document of a parser file, with the stage it belongs to."""

    path: str
    stage: str
    line: int
    data: dict
    text_order: int


def read_parser_docs(files: list[tuple[str, str, str]], errors: ErrorCollector) -> list[ParserDoc]:
    """files: (stage, path, text), already in load order. YAML errors are collected."""
    docs: list[ParserDoc] = []
    for order, (stage, path, text) in enumerate(files):
        try:
            for line, data in load_documents(text, path):
                docs.append(ParserDoc(path, stage, line, data, order))
        except LoadError as err:
            errors.add(err)
    return docs


def data_entries(data: dict, path: str, errors: ErrorCollector) -> list[DataEntry]:
    """The entries of a document's `data:` section."""
    doc = Doc(data, path, "", errors)
    out = []
    for i, item in enumerate(get_list(doc, "data")):
        d = doc.item("data", i, item)
        check_keys(d, DATA_KEYS)
        dest = get_str(d, "dest_file", required=True)
        kind = get_str(d, "type", "string") or "string"
        if kind not in ("string", "regexp", "map"):
            d.error("type", f"unknown data type {kind!r} (string, regexp or map)")
        _check_data_cache(d)
        if dest:
            out.append(DataEntry(dest, kind, d.where("dest_file")))
    return out


def _check_data_cache(d: Doc) -> None:
    """Validate a data entry's regexp match-cache options (`cache`, `strategy`, `size`, `ttl`, as CrowdSec's
    DataProvider). synsec's regexps are linear-time and uncached, so valid options change no result."""
    get_bool(d, "cache", True)
    strategy = get_str(d, "strategy", "") or ""
    if strategy and strategy not in DATA_CACHE_STRATEGIES:
        d.error("strategy", f"unknown cache strategy {strategy[:40]!r} ({', '.join(DATA_CACHE_STRATEGIES)})")
    size = get_int(d, "size")
    if size is not None and not 1 <= size <= MAX_DATA_CACHE_SIZE:
        d.error("size", f"cache size must be between 1 and {MAX_DATA_CACHE_SIZE}, got {size}")
    ttl = get_str(d, "ttl", "") or ""
    if ttl:
        try:
            parse_duration(ttl)
        except DurationError as err:
            d.error("ttl", str(err))


class _Compiler:
    def __init__(self, lib, expr_ctx, errors: ErrorCollector):
        from synsec.engine import expr as expr_mod

        self.lib = lib
        self.expr_ctx = expr_ctx
        self.errors = errors
        self.expr = expr_mod

    def compile_expr(self, doc: Doc, key: str, text, predicate: bool = False):
        if text is None or text == "":
            return None
        if isinstance(text, (list, dict)):
            doc.error(key, f"expected an expression (a string), got {kind_of(text)}")
            return None
        fn = self.expr.compile_predicate if predicate else self.expr.compile_expr
        try:
            return fn(str(text), where=doc.where(key), params=("evt",), ctx=self.expr_ctx)
        except LoadError as err:
            self.errors.add(err)
            return None

    def statics(self, doc: Doc, key: str) -> tuple[Static, ...]:
        out = []
        for i, item in enumerate(get_list(doc, key)):
            d = doc.item(key, i, item)
            check_keys(d, STATIC_KEYS)
            targets = [k for k in ("meta", "parsed", "enriched", "target", "method") if k in d.data]
            if len(targets) != 1:
                d.error(None, "a static needs exactly one of meta, parsed, enriched, target, method")
                continue
            kind = targets[0]
            name = get_str(d, kind) or ""
            if kind == "method":
                from synsec.engine.enrichers import ENRICHERS

                if name not in ENRICHERS:
                    d.error(kind, f"unknown method {name!r} (known: {', '.join(sorted(ENRICHERS))})")
            has_value = "value" in d.data
            if has_value == ("expression" in d.data):
                d.error(None, "a static needs exactly one of value, expression")
                continue
            if has_value:
                raw = d.data["value"]
                if isinstance(raw, (list, dict)):
                    d.error("value", f"expected a string, got {kind_of(raw)}")
                    continue
                # what Go's YAML puts in the string field: the source text (`yes`, `010`, `1.50` as written)
                value = d.data.text_of("value") if isinstance(d.data, PosDict) else None
                if value is None:
                    value = "" if raw is None else ("true" if raw is True else "false" if raw is False else str(raw))
                out.append(Static(kind, name, value=value, where=d.where(kind)))
            else:
                fn = self.compile_expr(d, "expression", d.data.get("expression"))
                if fn is not None:
                    out.append(Static(kind, name, expr=fn, where=d.where("expression")))
        return tuple(out)

    def grok(self, doc: Doc) -> GrokStep | None:
        if "grok" not in doc.data:
            return None
        g = doc.child("grok", doc.data["grok"])
        check_keys(g, GROK_KEYS)
        pattern, name = get_str(g, "pattern", None), get_str(g, "name", None)
        apply_on, expression = get_str(g, "apply_on", ""), g.data.get("expression")
        if bool(pattern) == bool(name):
            g.error(None, "grok needs exactly one of pattern, name")
            return None
        if not apply_on and not expression:
            g.error(None, "grok needs apply_on or expression")
        try:
            if pattern:
                compiled = self.lib.compile(pattern, where=g.where("pattern"))
            else:
                compiled = self.lib.compile_named(name, where=g.where("name"))
        except LoadError as err:
            self.errors.add(err)
            return None
        expr_fn = self.compile_expr(g, "expression", expression) if expression and not apply_on else None
        return GrokStep(compiled, apply_on=apply_on.removeprefix("evt.") if apply_on.startswith("evt.Line")
                        else apply_on, expr=expr_fn, statics=self.statics(g, "statics"),
                        label=name or (pattern or "")[:20])

    def whitelist(self, doc: Doc) -> Whitelist | None:
        if "whitelist" not in doc.data:
            return None
        w = doc.child("whitelist", doc.data["whitelist"])
        check_keys(w, WHITELIST_KEYS)
        ips, cidrs = set(), []
        for i, ip in enumerate(get_list(w, "ip")):
            try:
                ips.add(ipaddress.ip_address(str(ip)))
            except ValueError:
                self.errors.add(LoadError(w.item_where("ip", i), f"invalid IP address {str(ip)[:80]!r}"))
        for i, net in enumerate(get_list(w, "cidr")):
            try:
                cidrs.append(ipaddress.ip_network(str(net), strict=False))
            except ValueError:
                self.errors.add(LoadError(w.item_where("cidr", i), f"invalid CIDR {str(net)[:80]!r}"))
        exprs = []
        for i, text in enumerate(get_list(w, "expression")):
            d = Doc(w.data, w.path, w.field, self.errors)
            fn = self.compile_expr(d, "expression", text)
            if fn is not None:
                exprs.append(fn)
        return Whitelist(get_str(w, "reason", ""), frozenset(ips), tuple(cidrs), tuple(exprs))

    def stash(self, doc: Doc) -> tuple[Stash, ...]:
        out = []
        for i, item in enumerate(get_list(doc, "stash")):
            d = doc.item("stash", i, item)
            check_keys(d, STASH_KEYS)
            key = self.compile_expr(d, "key", get_str(d, "key", required=True))
            value = self.compile_expr(d, "value", get_str(d, "value", required=True))
            try:
                ttl = parse_duration(get_str(d, "ttl", "0") or "0")
            except DurationError as err:
                d.error("ttl", str(err))
                ttl = 0.0
            size = get_int(d, "size", 0) or 0
            if size < 0:
                d.error("size", "size must be >= 0")
            if key is not None and value is not None:
                out.append(Stash(get_str(d, "name", required=True) or "", key, value, ttl, max(size, 0)))
        return tuple(out)

    def node(self, doc: Doc, stage: str, before: int | None = None) -> Node:
        """One node and its children; `before`: the error count before its doc was made (an emptiness error is
        given only to a node with no other error)."""
        before = len(self.errors.errors) if before is None else before
        check_keys(doc, NODE_KEYS)
        onsuccess = get_str(doc, "onsuccess", "") or ""
        if onsuccess not in ("", "continue", "next_stage"):     # CrowdSec: "" behaves like continue
            doc.error("onsuccess", f"unknown onsuccess {onsuccess!r} (continue or next_stage)")
        get_bool(doc, "debug")
        syntax = doc.child("pattern_syntax", get_map(doc, "pattern_syntax"))
        syntax_ok = True
        for name, regex in syntax.data.items():
            if str(name) in self.lib:
                continue  # CrowdSec warns "already registred" and keeps the first definition
            try:        # grokky compiles a pattern as it is added: a bad regex, or a name not defined yet, fails
                self.lib.add(str(name), str(regex), where=doc.where("pattern_syntax"))
                self.lib.compile_named(str(name), where=syntax.where(name))
            except LoadError as err:
                self.errors.add(err)
                syntax_ok = False
                break     # CrowdSec stops at the node's first bad pattern (its grok is not compiled either)
        children = []
        for i, child in enumerate(get_list(doc, "nodes")):
            count = len(self.errors.errors)
            children.append(self.node(doc.item("nodes", i, child), stage, count))
        node = Node(
            name=get_str(doc, "name", "") or "", stage=stage,
            filter=self.compile_expr(doc, "filter", doc.data.get("filter"), predicate=True),
            grok=self.grok(doc) if syntax_ok else None, statics=self.statics(doc, "statics"), stash=self.stash(doc),
            whitelist=self.whitelist(doc), children=tuple(children), next_stage=onsuccess == "next_stage",
            where=doc.where(),
        )
        if len(self.errors.errors) == before and _empty(doc.data):
            doc.error(None, "node is empty: it needs a grok, nodes, statics or a whitelist with entries "
                            "(CrowdSec refuses it: \"Node is empty\")")
        return node


def _empty(data: dict) -> bool:
    """CrowdSec's "Node is empty": no grok, no child nodes, no statics, no whitelist ip, cidr or expression
    (a filter, a stash or data alone do not make a node)."""
    wl = data.get("whitelist")
    return not (data.get("grok") or data.get("nodes") or data.get("statics")
                or (isinstance(wl, dict) and any(wl.get(k) for k in ("ip", "cidr", "expression"))))


def compile_parser_docs(docs: list[ParserDoc], lib, expr_ctx, errors: ErrorCollector) -> list[Node]:
    """Compile documents in order; a document with errors still yields a node so lint sees everything."""
    comp = _Compiler(lib, expr_ctx, errors)
    nodes = []
    for d in docs:
        doc = Doc(d.data, d.path, "", errors, d.line)
        before = len(errors.errors)
        node = comp.node(doc, d.stage)
        if len(errors.errors) == before:
            nodes.append(node)
    return nodes
