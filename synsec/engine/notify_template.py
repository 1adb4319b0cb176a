"""A safe subset of Go's text/template, for the `format` of CrowdSec's notification files.

The data is plain JSON values only (dicts, lists, strings, numbers, booleans, None), so a template can reach
nothing but the alerts it is given: no attribute or method of a Python object is ever looked up. `.Field` reads
a dict key — the name as written, else Go's field name turned into the JSON name (`MachineID` → `machine_id`),
as CrowdSec's `models.Alert` fields print under Go names and encode under JSON names. Output size, evaluation
steps and nesting are bounded; a syntax error is a `TemplateError` with its line, raised at compile time.

Supported: text, `{{- -}}` trimming, comments, `range` (with `$i, $x :=` and `else`), `if`/`else if`/`else`,
`with`, `$x := …`/`$x = …`, pipelines with `|`, parentheses, string/number/bool/nil literals and the functions
in FUNCS (Go's builtins plus sprig's toJson, toPrettyJson, upper, lower, trim, quote, join, default).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import SynsecError

__all__ = ["Template", "TemplateError", "compile_template", "render", "FUNCS", "MAX_OUTPUT", "MAX_STEPS"]

MAX_OUTPUT = 1 << 20        # characters a rendering may write
MAX_STEPS = 200_000          # nodes and loop iterations a rendering may evaluate
MAX_DEPTH = 40               # nesting of blocks and parentheses
MAX_SOURCE = 64 * 1024       # characters of template text


class TemplateError(SynsecError):
    """A template that does not compile (with its 1-based line) or fails while rendering."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line, self.message = line, message


# ---------------------------------------------------------------- values and functions

_GO_NAME = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _field(value: Any, name: str, line: int) -> Any:
    """`.name` of a JSON value: a dict key (as written, else the Go name's JSON spelling); None stays None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TemplateError(f"can't evaluate field {name} in a {_kind(value)}", line)
    if name in value:
        return value[name]
    return value.get(_GO_NAME.sub("_", name).lower())


def _kind(value: Any) -> str:
    return {dict: "map", list: "list", str: "string", bool: "bool", int: "number", float: "number"}.get(
        type(value), "nil" if value is None else "value")


def truth(value: Any) -> bool:
    """Go's template truth: false, 0, nil and empty strings, lists and maps are false."""
    return bool(value) if isinstance(value, (bool, int, float, str, list, dict)) else value is not None


def show(value: Any) -> str:
    """How Go prints a value in a template (fmt's %v)."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list):
        return "[" + " ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{show(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _len(v):
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise TemplateError(f"len of a {_kind(v)}")


def _index(v, *keys):
    for k in keys:
        if isinstance(v, list) and isinstance(k, int) and not isinstance(k, bool) and -len(v) <= k < len(v):
            v = v[k]
        elif isinstance(v, dict) and isinstance(k, str):
            v = v.get(k)
        else:
            raise TemplateError(f"index of a {_kind(v)} with {show(k)}")
    return v


def _printf(fmt, *args):
    if not isinstance(fmt, str):
        raise TemplateError("printf needs a format string")
    it = iter(args)

    def one(m):
        verb = m.group(1)
        if verb == "%":
            return "%"
        arg = next(it, None)
        if verb == "q":
            return json.dumps(show(arg))
        if verb == "d" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return str(int(arg))
        return show(arg)
    return re.sub(r"%([sdvq%])", one, fmt)


def _cmp(op: Callable) -> Callable:
    def f(a, b):
        if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
            raise TemplateError(f"incompatible types for comparison: {_kind(a)} and {_kind(b)}")
        if a is None or isinstance(a, (list, dict, bool)):
            raise TemplateError(f"cannot order a {_kind(a)}")
        return op(a, b)
    return f


def _to_json(v, indent=None) -> str:
    return json.dumps(v, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":"))


FUNCS: dict[str, Callable] = {
    "len": _len, "index": _index, "printf": _printf,
    "print": lambda *a: "".join(show(x) for x in a), "println": lambda *a: " ".join(show(x) for x in a) + "\n",
    "eq": lambda a, *bs: any(a == b and type(a) is type(b) or (isinstance(a, (int, float)) and not isinstance(
        a, bool) and isinstance(b, (int, float)) and not isinstance(b, bool) and a == b) for b in bs),
    "ne": lambda a, b: not (a == b and type(a) is type(b)),
    "lt": _cmp(lambda a, b: a < b), "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b), "ge": _cmp(lambda a, b: a >= b),
    "not": lambda a: not truth(a),
    "toJson": _to_json, "toPrettyJson": lambda v: _to_json(v, 2),
    "upper": lambda s: show(s).upper(), "lower": lambda s: show(s).lower(), "trim": lambda s: show(s).strip(),
    "quote": lambda *a: " ".join(json.dumps(show(x)) for x in a),
    "join": lambda sep, lst: show(sep).join(show(x) for x in (lst if isinstance(lst, list) else [])),
    "default": lambda d, v=None: v if truth(v) else d,
    "html": lambda *a: "".join(show(x) for x in a).replace("&", "&amp;").replace("<", "&lt;").replace(
        ">", "&gt;").replace('"', "&#34;").replace("'", "&#39;"),
}
_LAZY = {"and", "or"}   # short-circuit: evaluated by the engine, not in FUNCS


# ---------------------------------------------------------------- lexer

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>:=|=|\||\(|\)|,)
)""", re.X)


def _tokens(text: str, line: int) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"unexpected {text[pos:].strip()[:20]!r} in action", line)
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
        if kind in ("field", "var") and pos < len(text) and text[pos] == ".":   # $x.Field
            f = _TOKEN.match(text, pos)
            if f and f.lastgroup == "field":
                out.append(("chain", f.group("field")))
                pos = f.end()
    return out


# ---------------------------------------------------------------- nodes

@dataclass
class Text:
    text: str


@dataclass
class Action:          # {{pipeline}} or {{$x := pipeline}}
    pipe: "Pipe"
    line: int


@dataclass
class Pipe:
    cmds: list                  # of Cmd
    decl: tuple = ()            # variable names declared (range: up to 2)
    assign: bool = False        # `=` (assign an existing variable) rather than `:=`


@dataclass
class Cmd:
    args: list      # operands: ("field", path), ("var", name, path), ("lit", v), ("fn", name), ("pipe", Pipe)
    line: int


@dataclass
class Block:
    kind: str                   # if, range, with
    pipe: Pipe
    body: list
    line: int
    other: list = field(default_factory=list)   # else branch


@dataclass
class Template:
    nodes: list
    source: str


# ---------------------------------------------------------------- parser

def _split(src: str) -> list:
    """Raw pieces: ("text", s) and ("act", inner, line), with `{{-`/`-}}` trimming applied."""
    pieces, pos, trim_next = [], 0, False
    for m in _ACTION.finditer(src):
        text = src[pos:m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("act", m.group(2), src.count("\n", 0, m.start()) + 1))
        trim_next, pos = bool(m.group(3)), m.end()
    rest = src[pos:]
    if "{{" in rest:
        raise TemplateError("unclosed action", src.count("\n", 0, pos + rest.index("{{")) + 1)
    pieces.append(("text", rest.lstrip() if trim_next else rest))
    return pieces


class _Parser:
    def __init__(self, src: str):
        self.pieces = [p for p in _split(src) if p != ("text", "")]
        self.i = 0
        self.depth = 0

    def parse(self) -> list:
        nodes, end = self.block(0)
        if end is not None:
            raise TemplateError(f"unexpected {{{{{end[0]}}}}}", end[1])
        return nodes

    def block(self, line: int) -> tuple[list, tuple | None]:
        """Nodes up to an `end`/`else` at this level (returned as (word, line, rest)), or the end of input."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TemplateError("blocks nested too deep", line)
        nodes: list = []
        while self.i < len(self.pieces):
            piece = self.pieces[self.i]
            self.i += 1
            if piece[0] == "text":
                nodes.append(Text(piece[1]))
                continue
            inner, ln = piece[1].strip(), piece[2]
            if inner.startswith("/*"):
                if not inner.endswith("*/"):
                    raise TemplateError("unclosed comment", ln)
                continue
            word, _, rest = inner.partition(" ")
            word, rest = (word, rest) if inner[len(word):len(word) + 1] in ("", " ", "\t", "\n") else (inner, "")
            if word in ("end", "else"):
                self.depth -= 1
                return nodes, (word, ln, rest.strip())
            if word in ("if", "range", "with"):
                nodes.append(self.control(word, rest, ln))
            elif word in ("define", "template", "block", "break", "continue"):
                raise TemplateError(f"{{{{{word}}}}} is not supported in notification templates", ln)
            else:
                nodes.append(Action(self.pipeline(inner, ln, allow_decl=True), ln))
        self.depth -= 1
        return nodes, None

    def control(self, word: str, rest: str, ln: int) -> Block:
        if not rest.strip():
            raise TemplateError(f"missing value for {word}", ln)
        node = Block(word, self.pipeline(rest, ln, allow_decl=word != "if", range_decl=word == "range"), [], ln)
        node.body, end = self.block(ln)
        if end is None:
            raise TemplateError(f"unexpected end of template: {{{{{word}}}}} has no {{{{end}}}}", ln)
        if end[0] == "else":
            if end[2].startswith("if ") and word == "if":       # else if: a nested if that shares our end
                nested = Block("if", self.pipeline(end[2][3:], end[1]), [], end[1])
                nested.body, end2 = self.block(end[1])
                node.other = [nested]
                while end2 is not None and end2[0] == "else":
                    if end2[2].startswith("if "):
                        nxt = Block("if", self.pipeline(end2[2][3:], end2[1]), [], end2[1])
                        nxt.body, end2 = self.block(end2[1])
                        nested.other, nested = [nxt], nxt
                    else:
                        if end2[2]:
                            raise TemplateError(f"unexpected {end2[2]!r} after else", end2[1])
                        nested.other, end2 = self.block(end2[1])
                        break
                end = end2
            else:
                if end[2]:
                    raise TemplateError(f"unexpected {end[2]!r} after else", end[1])
                node.other, end = self.block(end[1])
        if end is None or end[0] != "end":
            raise TemplateError(f"{{{{{word}}}}} has no {{{{end}}}}", ln)
        if end[2]:
            raise TemplateError(f"unexpected {end[2]!r} after end", end[1])
        return node

    def pipeline(self, text: str, ln: int, allow_decl: bool = False, range_decl: bool = False) -> Pipe:
        toks = _tokens(text, ln)
        decl, assign = (), False
        names = []
        j = 0
        while j < len(toks) and toks[j][0] == "var" and (allow_decl or range_decl):
            names.append(toks[j][1])
            j += 1
            if j < len(toks) and toks[j] == ("op", ",") and range_decl and len(names) < 2:
                j += 1
                continue
            break
        if names and j < len(toks) and toks[j][0] == "op" and toks[j][1] in (":=", "="):
            decl, assign = tuple(names), toks[j][1] == "="
            if len(decl) > 1 and not range_decl:
                raise TemplateError("too many declarations", ln)
            toks = toks[j + 1:]
        pipe, k = self.cmds(toks, 0, ln)
        if k != len(toks):
            raise TemplateError(f"unexpected {toks[k][1]!r}", ln)
        pipe.decl, pipe.assign = decl, assign
        return pipe

    def cmds(self, toks: list, k: int, ln: int) -> tuple[Pipe, int]:
        cmds = []
        while True:
            args = []
            while k < len(toks) and toks[k] not in (("op", "|"), ("op", ")")):
                args.append(self.operand(toks, k, ln))
                k += 2 if k + 1 < len(toks) and toks[k + 1][0] == "chain" else 1
                if args[-1][0] == "pipe":
                    k = args[-1][2]
                    args[-1] = args[-1][:2]
            if not args:
                raise TemplateError("missing value for command", ln)
            cmds.append(Cmd(args, ln))
            if k < len(toks) and toks[k] == ("op", "|"):
                k += 1
                continue
            return Pipe(cmds), k

    def operand(self, toks: list, k: int, ln: int) -> tuple:
        kind, val = toks[k]
        chain = toks[k + 1][1] if k + 1 < len(toks) and toks[k + 1][0] == "chain" else ""
        path = tuple(p for p in chain.split(".") if p)
        if kind == "str":
            try:
                return ("lit", json.loads(val) if val[0] == '"' else val[1:-1])
            except ValueError:
                raise TemplateError(f"bad string {val}", ln) from None
        if kind == "num":
            return ("lit", float(val) if "." in val else int(val))
        if kind == "field":
            return ("field", tuple(p for p in val.split(".") if p))
        if kind == "var":
            return ("var", val, path)
        if kind == "ident":
            if val in ("true", "false"):
                return ("lit", val == "true")
            if val == "nil":
                return ("lit", None)
            if val not in FUNCS and val not in _LAZY:
                raise TemplateError(f'function "{val}" not defined', ln)
            return ("fn", val)
        if (kind, val) == ("op", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise TemplateError("parentheses nested too deep", ln)
            pipe, end = self.cmds(toks, k + 1, ln)
            self.depth -= 1
            if end >= len(toks) or toks[end] != ("op", ")"):
                raise TemplateError("unclosed left paren", ln)
            return ("pipe", pipe, end + 1)
        raise TemplateError(f"unexpected {val!r}", ln)


def compile_template(source: str) -> Template:
    """Compile template text once (at load); TemplateError names the line of a syntax error."""
    if len(source) > MAX_SOURCE:
        raise TemplateError(f"template longer than {MAX_SOURCE} characters")
    tpl = Template(_Parser(source).parse(), source)
    _check_vars(tpl.nodes, {"$"}, 0)
    return tpl


def _check_vars(nodes: list, scope: set, line: int) -> None:
    """Every variable is declared before use (Go: `undefined variable` at parse time)."""
    def pipe_vars(p: Pipe, ln: int):
        for c in p.cmds:
            for a in c.args:
                if a[0] == "var" and a[1] not in scope:
                    raise TemplateError(f"undefined variable: {a[1]}", ln)
                if a[0] == "pipe":
                    pipe_vars(a[1], ln)
    for n in nodes:
        if isinstance(n, Action):
            pipe_vars(n.pipe, n.line)
            if n.pipe.assign and n.pipe.decl[0] not in scope:
                raise TemplateError(f"undefined variable: {n.pipe.decl[0]}", n.line)
            scope.update(n.pipe.decl)
        elif isinstance(n, Block):
            pipe_vars(n.pipe, n.line)
            inner = scope | set(n.pipe.decl)
            _check_vars(n.body, set(inner), n.line)
            _check_vars(n.other, set(scope), n.line)


# ---------------------------------------------------------------- evaluation

class _Run:
    def __init__(self, root: Any, max_output: int, max_steps: int):
        self.out: list[str] = []
        self.size = 0
        self.steps = 0
        self.max_output, self.max_steps = max_output, max_steps
        self.vars: list[tuple[str, Any]] = [("$", root)]

    def step(self, line: int) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise TemplateError(f"template evaluation exceeds {self.max_steps} steps", line)

    def write(self, text: str, line: int) -> None:
        self.size += len(text)
        if self.size > self.max_output:
            raise TemplateError(f"template output exceeds {self.max_output} characters", line)
        self.out.append(text)

    def var(self, name: str) -> Any:
        for n, v in reversed(self.vars):
            if n == name:
                return v
        raise TemplateError(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return

    def nodes(self, nodes: list, dot: Any) -> None:
        mark = len(self.vars)
        for n in nodes:
            if isinstance(n, Text):
                self.write(n.text, 0)
            elif isinstance(n, Action):
                self.step(n.line)
                v = self.pipe(n.pipe, dot, n.line)
                if n.pipe.decl:
                    if n.pipe.assign:
                        self.set_var(n.pipe.decl[0], v)
                    else:
                        self.vars.append((n.pipe.decl[0], v))
                else:
                    self.write(show(v), n.line)
            else:
                self.block(n, dot)
        del self.vars[mark:]

    def block(self, n: Block, dot: Any) -> None:
        self.step(n.line)
        v = self.pipe(n.pipe, dot, n.line)
        if n.kind == "if":
            self.nodes(n.body if truth(v) else n.other, dot)
        elif n.kind == "with":
            self.nodes(n.body if truth(v) else n.other, v if truth(v) else dot)
        else:
            if v is None:
                items = []
            elif isinstance(v, list):
                items = list(enumerate(v))
            elif isinstance(v, dict):
                items = sorted(v.items())
            elif isinstance(v, int) and not isinstance(v, bool):
                items = [(i, i) for i in range(max(0, min(v, self.max_steps)))]
            else:
                raise TemplateError(f"range can't iterate over a {_kind(v)}", n.line)
            if not items:
                self.nodes(n.other, dot)
            for key, item in items:
                self.step(n.line)
                mark = len(self.vars)
                if len(n.pipe.decl) == 2:
                    self.vars += [(n.pipe.decl[0], key), (n.pipe.decl[1], item)]
                elif n.pipe.decl:
                    self.vars.append((n.pipe.decl[0], item))
                self.nodes(n.body, item)
                del self.vars[mark:]

    def pipe(self, p: Pipe, dot: Any, line: int) -> Any:
        value, first = None, True
        for c in p.cmds:
            value = self.cmd(c, dot, None if first else (value,))
            first = False
        return value

    def cmd(self, c: Cmd, dot: Any, piped: tuple | None) -> Any:
        head = c.args[0]
        if head[0] == "fn":
            name = head[1]
            if name in _LAZY:
                args = c.args[1:]
                if not args and not piped:
                    raise TemplateError(f"{name} needs arguments", c.line)
                v = None
                for a in args:
                    v = self.arg(a, dot, c.line)
                    if truth(v) == (name == "or"):
                        return v
                return piped[0] if piped else v
            vals = [self.arg(a, dot, c.line) for a in c.args[1:]] + list(piped or ())
            try:
                return FUNCS[name](*vals)
            except TemplateError as err:
                raise TemplateError(err.message, c.line) from None
            except (TypeError, ValueError, RecursionError) as err:
                raise TemplateError(f"{name}: {err}", c.line) from None
        if len(c.args) > 1 or piped:
            raise TemplateError(f"can't give arguments to a non-function {head[0]}", c.line)
        return self.arg(head, dot, c.line)

    def arg(self, a: tuple, dot: Any, line: int) -> Any:
        self.step(line)
        kind = a[0]
        if kind == "lit":
            return a[1]
        if kind == "field":
            v = dot
            for name in a[1]:
                v = _field(v, name, line)
            return v
        if kind == "var":
            v = self.var(a[1])
            for name in a[2]:
                v = _field(v, name, line)
            return v
        if kind == "pipe":
            return self.pipe(a[1], dot, line)
        if kind == "fn":
            return self.cmd(Cmd([a], line), dot, None)
        raise TemplateError(f"unexpected {kind}", line)


def render(tpl: Template, data: Any, *, max_output: int = MAX_OUTPUT, max_steps: int = MAX_STEPS) -> str:
    """The text of `tpl` over JSON data; TemplateError when it fails or exceeds its bounds."""
    run = _Run(data, max_output, max_steps)
    run.nodes(tpl.nodes, data)
    return "".join(run.out)
