"""Parser stages and nodes: CrowdSec's pkg/parser/node.go and runtime.go semantics, on compiled nodes.

A node runs: filter → whitelist checks → grok (on `apply_on` or an expression) → grok statics → stash →
child nodes → node statics → `onsuccess: next_stage`. A stage passes when one of its nodes succeeds; an
event that no node of a stage accepts stops there and counts as unparsed.

`process_node` says how a node runs, for any node; each node is also generated once, at construction, into a
Python function of its own (`Node.run`: only the steps the node has, its filter inline), which the stages run
unless a tracer (`ccscli explain`) watches every node.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable

from synsec.engine.counters import CounterSet
from synsec.engine.errors import Where
from synsec.engine.expr.compiler import generated_function, inline_body
from synsec.engine.model import Event
from synsec.engine.statics import as_text as _as_text
from synsec.engine.statics import compile_statics, set_target

__all__ = ["Static", "GrokStep", "Whitelist", "Stash", "Node", "Stage", "ParseContext", "ParserPipeline",
           "set_target"]


@dataclass(frozen=True, slots=True)
class Static:
    """One `statics` entry: where it writes (`meta|parsed|enriched|target|method`) and its value source."""

    kind: str
    name: str
    value: str | None = None
    expr: Callable | None = None
    where: Where = Where()


@dataclass(frozen=True, slots=True)
class GrokStep:
    grok: Any                       # synsec.engine.grok.Grok
    apply_on: str = ""              # "Line.Raw" or a Parsed key
    expr: Callable | None = None    # grok.expression alternative to apply_on
    statics: tuple[Static, ...] = ()
    label: str = ""
    apply: Callable | None = None   # the statics compiled (set at construction)

    def __post_init__(self) -> None:
        if self.statics and self.apply is None:
            object.__setattr__(self, "apply", compile_statics(self.statics))


_UNSEEN = object()


@dataclass(frozen=True, slots=True)
class Whitelist:
    reason: str = ""
    ips: frozenset = frozenset()
    cidrs: tuple = ()
    exprs: tuple = ()
    memo: dict = field(default_factory=dict, compare=False, repr=False)   # source text -> listed (None: no IP)
    v4: tuple = field(default=(), init=False, compare=False, repr=False)  # (IPv4 ints listed, IPv4 ranges)

    def __post_init__(self) -> None:
        object.__setattr__(self, "v4", (frozenset(int(ip) for ip in self.ips if ip.version == 4),
                                        tuple((int(net.network_address), int(net.broadcast_address))
                                              for net in self.cidrs if net.version == 4)))

    @property
    def has_ip_checks(self) -> bool:
        return bool(self.ips or self.cidrs)

    def ip_listed(self, value: str) -> bool | None:
        """Whether the address `value` is listed (None when it is not an IP); memoised, as sources repeat."""
        listed = self.memo.get(value, _UNSEEN)
        if listed is not _UNSEEN:
            return listed
        n = _ipv4_int(value)
        if n is not None:            # a dotted quad: integer tests, the answer ipaddress would give
            ips, ranges = self.v4
            listed = n in ips or any(low <= n <= high for low, high in ranges)
        else:
            ip = _parse_ip(value)
            if not ip:
                listed = None
            else:
                listed = ip in self.ips or any(ip.version == net.version and ip in net for net in self.cidrs)
        if len(self.memo) > 65536:
            self.memo.clear()
        self.memo[value] = listed
        return listed


def _ipv4_int(text: str) -> int | None:
    """The address of an IPv4 dotted quad as `ipaddress.IPv4Address` reads it (four ASCII decimal octets up to
    255, no leading zero), or None for any other text (which may still be an address: IPv6)."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    n = 0
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 3 or (part[0] == "0" and len(part) > 1):
            return None
        octet = int(part)
        if octet > 255:
            return None
        n = n << 8 | octet
    return n


@dataclass(frozen=True, slots=True)
class Stash:
    name: str
    key: Callable
    value: Callable
    ttl: float
    size: int


@dataclass(eq=False, slots=True)
class Node:
    """A compiled parser node (CrowdSec `parser.Node`)."""

    name: str = ""
    stage: str = ""
    filter: Callable | None = None
    grok: GrokStep | None = None
    statics: tuple[Static, ...] = ()
    stash: tuple[Stash, ...] = ()
    whitelist: Whitelist | None = None
    children: tuple["Node", ...] = ()
    next_stage: bool = False
    where: Where = Where()
    apply: Callable | None = None   # the statics compiled (set at construction)
    run: Callable | None = field(default=None, repr=False)   # process_node generated for this node

    def __post_init__(self) -> None:
        if self.statics and self.apply is None:
            self.apply = compile_statics(self.statics)
        if self.run is None:
            self.run = compile_node(self)


@dataclass(slots=True)
class Stage:
    name: str
    nodes: tuple[Node, ...]


@dataclass
class ParseContext:
    """Run-time collaborators of the parser: enrichers, their context, the expr context, the engine's counter
    set (`synsec.engine.counters`), tracer."""

    enrichers: dict
    enrich_ctx: Any
    expr_ctx: Any = None
    counts: CounterSet = field(default_factory=CounterSet)
    tracer: Callable | None = None        # tracer(node, event, ok) — used by `ccscli explain`
    collector: Callable | None = None     # collector(stage, node, event, ok) per top-level node — `ccscli hubtest`

    def count(self, name: str, n: int = 1) -> None:
        self.counts.inc(name, n=n)


def _run_expr(fn: Callable, evt: Event, ctx: ParseContext, counter: str) -> Any:
    try:
        return fn(evt)
    except Exception:  # ExprRuntimeError and anything an expression raised: counted, treated as failure
        ctx.count(counter)
        return None


_ip_cache: dict = {}


def _parse_ip(value: str):
    """ipaddress.ip_address with a bounded memo: the same sources come back on line after line."""
    ip = _ip_cache.get(value)
    if ip is None:
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            ip = False
        if len(_ip_cache) > 65536:
            _ip_cache.clear()
        _ip_cache[value] = ip
    return ip


def _check_whitelist(wl: Whitelist, evt: Event, ctx: ParseContext) -> tuple[bool, bool]:
    """(is_whitelisted, has_whitelist) exactly as CrowdSec computes them: `has` once a source is an IP and
    the node lists IPs or ranges; `listed` when one of them holds a source."""
    listed = has = False
    if wl.ips or wl.cidrs:
        values = evt.Overflow.Sources if evt.Overflow is not None else (evt.Meta.get("source_ip", ""),)
        for value in values:
            if value and (hit := wl.ip_listed(value)) is not None:
                has = True
                if hit:
                    listed = True
                    break
    for fn in wl.exprs:
        out = _run_expr(fn, evt, ctx, "parser_whitelist_errors")
        if isinstance(out, bool):
            has = True
            listed = listed or out
    return listed, has


def _run_grok(step: GrokStep, evt: Event, ctx: ParseContext) -> bool:
    if step.apply_on:
        if step.apply_on == "Line.Raw":
            text = evt.Line.Raw
        else:
            text = evt.Parsed.get(step.apply_on)
            if text is None:
                return False
    elif step.expr is not None:
        text = _run_expr(step.expr, evt, ctx, "parser_grok_expr_errors")
        if not isinstance(text, str):
            return False
    else:
        text = ""
    fields = step.grok.lookup(text)
    if not fields:
        return False
    evt.Parsed.update(fields)
    return step.apply(evt, ctx) if step.apply is not None else True


def process_node(node: Node, evt: Event, ctx: ParseContext, stages: tuple[str, ...]) -> bool:
    """One node on one event; True when the node succeeded (CrowdSec Node.process)."""
    if node.filter is not None:
        try:
            out = node.filter(evt)
        except Exception:  # counted, and the node fails (as _run_expr does; inlined on this hot path)
            ctx.count("parser_filter_errors")
            out = None
        if out is not True:
            if ctx.tracer:
                ctx.tracer(node, evt, False)
            return False
    state = True
    listed = has_wl = False
    if node.whitelist is not None:
        listed, has_wl = _check_whitelist(node.whitelist, evt, ctx)
        if listed:
            evt.Whitelisted = True
            evt.WhitelistReason = node.whitelist.reason
            if evt.Overflow is not None:
                evt.Overflow.Whitelisted = True
                evt.Overflow.Reason = node.whitelist.reason
    grok_ok = False
    if node.grok is not None:
        grok_ok = _run_grok(node.grok, evt, ctx)
        state = grok_ok
    if (grok_ok or node.grok is None) and node.stash and ctx.expr_ctx is not None:
        _apply_stash(node.stash, evt, ctx)
    for child in node.children:
        if process_node(child, evt, ctx, stages):
            state = True
            if node.next_stage:
                break
        elif not grok_ok:
            state = False
    if state and node.statics and (listed or not has_wl):
        state = node.apply(evt, ctx)
    if ctx.tracer:
        ctx.tracer(node, evt, state)
    if state and node.next_stage:
        _next_stage(evt, stages)
    return state


def _next_stage(evt: Event, stages: tuple[str, ...]) -> None:
    """`onsuccess: next_stage`: the event moves to the stage after its own (the last stage keeps it)."""
    idx = stages.index(evt.Stage) if evt.Stage in stages else -1
    if 0 <= idx < len(stages) - 1:
        evt.Stage = stages[idx + 1]


def compile_node(node: Node) -> Callable[[Event, ParseContext, tuple], bool]:
    """`process_node` for this node only, as one generated function (its children already have theirs): the
    steps it lacks are left out, its filter runs inline, a grok on a field is matched in place. No tracer."""
    ns: dict[str, Any] = {"_check_whitelist": _check_whitelist, "_run_grok": _run_grok, "_apply_stash": _apply_stash,
                          "_next_stage": _next_stage, "_wl": node.whitelist, "_stash": node.stash,
                          "_apply": node.apply, "_children": tuple(child.run for child in node.children)}
    lines = ["def _run(evt, ctx, stages):", "    v_evt = evt"]
    if node.filter is not None:
        lines += ["    try:", *_filter_code(node.filter, ns), "    except Exception:",
                  "        ctx.count('parser_filter_errors')", "        return False",
                  "    if _o is not True:", "        return False"]
    lines.append("    state = True")
    if node.whitelist is not None:
        lines += ["    listed, has_wl = _check_whitelist(_wl, evt, ctx)", "    if listed:",
                  "        evt.Whitelisted = True", "        evt.WhitelistReason = _wl.reason",
                  "        if evt.Overflow is not None:", "            evt.Overflow.Whitelisted = True",
                  "            evt.Overflow.Reason = _wl.reason"]
    grok = node.grok
    if grok is not None:
        lines += _grok_code(grok, ns) + ["    state = grok_ok"]
    if node.stash:
        lines += ["    if " + ("grok_ok and " if grok is not None else "") + "ctx.expr_ctx is not None:",
                  "        _apply_stash(_stash, evt, ctx)"]
    if node.children:
        lines += ["    for _child in _children:", "        if _child(evt, ctx, stages):", "            state = True"]
        if node.next_stage:
            lines.append("            break")
        lines += ["        elif not grok_ok:" if grok is not None else "        else:", "            state = False"]
    if node.statics:
        lines += ["    if state" + (" and (listed or not has_wl)" if node.whitelist is not None else "") + ":",
                  "        state = _apply(evt, ctx)"]
    if node.next_stage:
        lines += ["    if state:", "        _next_stage(evt, stages)"]
    lines.append("    return state")
    try:
        return generated_function("\n".join(lines) + "\n", ns, "_run", f"<node {node.where}>")
    except (SyntaxError, RecursionError, MemoryError, ValueError):   # a filter too deep to inline: interpret
        return lambda evt, ctx, stages: process_node(node, evt, ctx, stages)


def _filter_code(filt: Callable, ns: dict) -> list[str]:
    """Statements (inside a try) setting `_o` to the filter's value; a predicate's non-bool value raises, as the
    compiled predicate does."""
    inline = inline_body(filt, {}, ns)
    if inline is None:
        ns["_filter"] = filt
        return ["        _o = _filter(evt)"]
    code, metered, typ = inline
    out = (["        _b = _rt_Budget()"] if metered else []) + [f"        _o = {code}"]
    if typ != "bool":
        out += ["        if _o.__class__ is not bool:", "            raise TypeError('filter: not a bool')"]
    return out


def _grok_code(step: GrokStep, ns: dict) -> list[str]:
    """Statements setting `grok_ok` as `_run_grok` does; a grok on the raw line or a parsed field runs in place."""
    ns["_step"], ns["_match"], ns["_gapply"] = step, step.grok.lookup, step.apply
    if not step.apply_on:
        return ["    grok_ok = _run_grok(_step, evt, ctx)"]
    text = "evt.Line.Raw" if step.apply_on == "Line.Raw" else f"evt.Parsed.get({step.apply_on!r})"
    return [f"    _text = {text}",
            "    _fields = _match(_text) if _text is not None else None",
            "    if _fields:",
            "        evt.Parsed.update(_fields)",
            "        grok_ok = " + ("_gapply(evt, ctx)" if step.apply is not None else "True"),
            "    else:",
            "        grok_ok = False"]


def _apply_stash(stashes: tuple[Stash, ...], evt: Event, ctx: ParseContext) -> None:
    for st in stashes:
        key = _as_text(_run_expr(st.key, evt, ctx, "parser_stash_errors"))
        value = _as_text(_run_expr(st.value, evt, ctx, "parser_stash_errors"))
        if key and value is not None:
            stash = ctx.expr_ctx.stash
            stash.configure(st.name, st.ttl or None, st.size or 1000)
            stash.set(st.name, key, value)


class ParserPipeline:
    """Stages in order (s00-raw, s01-parse, s02-enrich, or s00-enrich/s01-whitelist for postoverflows)."""

    def __init__(self, stages: list[Stage]):
        self.stages = tuple(stages)
        self.stage_names = tuple(s.name for s in stages)

    def parse(self, evt: Event, ctx: ParseContext) -> bool:
        """Run every stage; True when the event went through all of them (CrowdSec parser.Parse)."""
        names = self.stage_names
        if not names:
            return True
        if not evt.Stage:
            evt.Stage = names[0]
        collect = ctx.collector
        traced = ctx.tracer is not None
        for i, stage in enumerate(self.stages):
            name = stage.name
            if evt.Stage != name:
                if evt.Stage in names and names.index(evt.Stage) > i:
                    continue                         # already past this stage
                return False
            ok = False
            for node in stage.nodes:
                ret = process_node(node, evt, ctx, names) if traced else node.run(evt, ctx, names)
                if collect is not None:
                    collect(name, node, evt, ret)
                if ret:
                    ok = True
                    if node.next_stage:
                        break
                if evt.Stage != name:
                    break
            if not ok:
                return False
        return True
