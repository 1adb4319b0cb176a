"""A node's `statics` compiled into one Python function, once at load.

`compile_statics(statics)` generates straight-line code — one block per entry, writing its map or attribute
directly — with exactly the semantics of applying the entries one by one (CrowdSec `ProcessStatics`):

* a value comes from `value:` (a constant) or `expression:` (an expression that raised counts as
  `parser_static_errors` and gives "", which is skipped); a bool/int/float result is turned into text as Go prints it;
  any other type (a list, a map) counts as `parser_static_errors` and stops the statics: the node fails;
* an empty value is skipped, except for the ParseDate method;
* `meta|parsed|enriched: name` set a key; `target: evt.X.Y` sets a field (CrowdSec SetTargetByName);
  `method: Name` runs the enricher and merges what it returns into Enriched.

An expression is generated inline from its syntax tree (the code its own compiled function runs, without the
call); one whose names would clash with another entry's is called instead.
"""

from __future__ import annotations

from typing import Any, Callable

from synsec.engine.expr.compiler import generated_function, inline_body

__all__ = ["compile_statics", "as_text", "set_target"]

_INF = float("inf")
_EVENT_MAPS = {"Meta": "Meta", "Parsed": "Parsed", "Enriched": "Enriched"}
_EVENT_ATTRS = frozenset({"StrTime", "StrTimeFormat", "MarshaledTime", "Stage", "WhitelistReason"})


def as_text(value: Any) -> str | None:
    """A static's value as text ("" for nil), or None when it has no text form (a list, a map)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (_INF, -_INF):
            return "NaN" if value != value else ("+Inf" if value > 0 else "-Inf")   # Go's %v
        return f"{value:f}"          # CrowdSec writes a float static with Go's %f: 401.000000, 7.181000
    return None


def set_target(evt: Any, path: str, value: Any) -> bool:
    """CrowdSec SetTargetByName: `evt.StrTime`, `evt.Meta.x`, `evt.Overflow.Alert.Source.Value`..."""
    parts = path.split(".")
    if parts and parts[0] == "evt":
        parts = parts[1:]
    if not parts:
        return False
    obj = evt
    for name in parts[:-1]:
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if obj is None:
            return False
    last = parts[-1]
    if isinstance(obj, dict):
        obj[last] = value
        return True
    if not hasattr(obj, last):
        return False
    try:
        setattr(obj, last, value)
    except (AttributeError, TypeError):
        return False
    return True


def _writer(kind: str, name: str) -> str:
    """The statement storing `_v` for one entry."""
    if kind in ("meta", "parsed", "enriched"):
        return f"evt.{kind.capitalize()}[{name!r}] = _v"
    if kind == "target":
        parts = name.split(".")
        if parts and parts[0] == "evt":
            parts = parts[1:]
        if len(parts) == 2 and parts[0] in _EVENT_MAPS:
            return f"evt.{parts[0]}[{parts[1]!r}] = _v"
        if len(parts) == 1 and parts[0] in _EVENT_ATTRS:
            return f"evt.{parts[0]} = _v"
        return f"_set_target(evt, {name!r}, _v)"
    if kind == "method":
        return (f"_e = ctx.enrichers.get({name!r})\n"
                f"        if _e is not None:\n"
                f"            evt.Enriched.update(_e(_v, evt, ctx.enrich_ctx))")
    raise ValueError(f"unknown statics kind {kind!r}")


def compile_statics(statics, inline: bool = True) -> Callable[[Any, Any], bool]:
    """One function `apply(evt, ctx) -> bool` applying `statics` (a sequence of parser.Static) in order; the
    expressions are called instead of inlined when `inline` is false or the inlined code does not compile."""
    ns: dict[str, Any] = {"_as_text": as_text, "_set_target": set_target}
    gens: dict = {}
    lines = ["def _apply(evt, ctx):", "    v_evt = evt"]
    for i, st in enumerate(statics):
        keep_empty = st.kind == "method" and st.name == "ParseDate"
        store = _writer(st.kind, st.name)
        if st.value is not None or st.expr is None:
            value = st.value if st.value is not None else ""
            if value == "" and not keep_empty:
                continue
            lines += [f"    _v = {value!r}", f"    if True:", f"        {store}"]
            continue
        body = inline_body(st.expr, gens, ns) if inline else None
        if body is None:
            ns[f"_x{i}"] = getattr(st.expr, "fn", st.expr)
            value = [f"        _v = _x{i}(evt)"]
        else:
            value = (["        _b = _rt_Budget()"] if body[1] else []) + [f"        _v = {body[0]}"]
        lines += [
            "    try:",
            *value,
            "    except Exception:",
            "        ctx.count('parser_static_errors')",
            "        _v = ''",
            "    if _v.__class__ is not str:",
            "        _v = _as_text(_v)",
            "        if _v is None:",
            "            ctx.count('parser_static_errors')",
            "            return False",
            f"    if {'True' if keep_empty else '_v'}:",
            f"        {store}",
        ]
    lines.append("    return True")
    try:
        return generated_function("\n".join(lines) + "\n", ns, "_apply", "<statics>")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        if not inline:
            raise
        return compile_statics(statics, inline=False)     # the expressions compiled alone: call them
