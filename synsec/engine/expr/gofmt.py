"""A Go `fmt.Sprintf` for the verbs hub content uses: %s %d %v %q %f %x %X %t %%, with width/precision."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta

from .runtime import MAX_STRING

__all__ = ["sprintf", "go_value"]

_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*))?([a-zA-Z%])")


def go_float(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64) as %v prints it: shortest repr, exponent past 1e21."""
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if math.isnan(f):
        return "NaN"
    if f == int(f) and abs(f) < 1e21:
        return str(int(f)) if f != 0 or math.copysign(1, f) > 0 else "-0"
    text = repr(f)
    if "e" in text:
        mant, _, exp = text.partition("e")
        sign = "-" if exp.startswith("-") else "+"
        text = f"{mant}e{sign}{exp.lstrip('+-').zfill(2)}"
    return text


def go_value(v) -> str:
    """%v formatting of a value."""
    if v is None:
        return "<nil>"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(go_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{go_value(k)}:{go_value(x)}" for k, x in sorted(v.items(), key=str)) + "]"
    if isinstance(v, timedelta):
        from .builtins import format_go_duration
        return format_go_duration(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    return str(v)


def _one(flags: str, width: str | None, prec: str | None, verb: str, arg) -> str:
    if verb in "sv":
        out = arg if isinstance(arg, str) else go_value(arg)
        if prec is not None and verb == "s":
            out = out[:int(prec)]
    elif verb == "d":
        if arg.__class__ is not int:
            return f"%!d({type(arg).__name__}={go_value(arg)})"
        out = f"{arg:+d}" if "+" in flags else str(arg)
    elif verb in "feEgG":
        if not isinstance(arg, (int, float)) or arg.__class__ is bool:
            return f"%!{verb}({type(arg).__name__}={go_value(arg)})"
        p = 6 if prec is None else int(prec)
        out = f"{float(arg):{'+' if '+' in flags else ''}.{p}{verb}}" if verb != "g" or prec else go_float(float(arg))
    elif verb in "xX":
        data = arg.encode() if isinstance(arg, str) else None
        out = data.hex() if data is not None else format(arg, "x")
        out = out.upper() if verb == "X" else out
    elif verb == "q":
        out = json.dumps(arg, ensure_ascii=False) if isinstance(arg, str) else repr(arg)
    elif verb == "t":
        out = go_value(arg) if arg.__class__ is bool else f"%!t({type(arg).__name__}={go_value(arg)})"
    else:
        return f"%!{verb}({type(arg).__name__}={go_value(arg)})"
    if width:
        w = int(width)
        if "-" in flags:
            out = out.ljust(w)
        elif "0" in flags and verb not in "sqvt":
            sign = out[0] if out[:1] in "+-" else ""
            out = sign + out[len(sign):].rjust(w - len(sign), "0")
        else:
            out = out.rjust(w)
    return out


_MAX_WIDTH = 1_000_000      # Go's fmt: a larger width or precision is "too large", not a number


def sprintf(fmt: str, *args) -> str:
    """fmt.Sprintf: missing operands print %!v(MISSING), extra ones %!(EXTRA type=value).

    A width or precision past 1e6 prints %!(BADWIDTH)/%!(BADPREC) and ends the format, as in Go; a result
    longer than MAX_STRING is a runtime error (never a MemoryError)."""
    out: list[str] = []
    size = pos = argi = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        bad = _too_large(width, prec)
        if bad:
            out.append(f"%!({bad})%!(NOVERB)")
            pos = len(fmt)
            break
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_one(flags, width, prec, verb, args[argi]))
        argi += 1
        size += len(out[-2]) + len(out[-1])
        if size > MAX_STRING:
            raise ValueError(f"Sprintf: result longer than {MAX_STRING} characters")
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(f"{type(a).__name__}={go_value(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _too_large(width: str | None, prec: str | None) -> str:
    if width and width != "*" and (len(width) > 7 or int(width) > _MAX_WIDTH):
        return "BADWIDTH"
    if prec and prec != "*" and (len(prec) > 7 or int(prec) > _MAX_WIDTH):
        return "BADPREC"
    return ""
