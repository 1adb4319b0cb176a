"""A Pratt parser with expr-lang/expr v1.17's operator table, producing `nodes`."""

from __future__ import annotations

from ..errors import ExprTextError
from .lexer import LexError, Token, tokenize
from .nodes import (ArrayLit, Binary, Builtin, Call, Chain, Conditional, Const, Ident, Let, MapLit, Member,
                    MethodCall, Node, Pointer, Predicate, Sequence, Slice, Unary, tree_depth, tree_size)

__all__ = ["ParseError", "parse", "BINARY", "UNARY", "PREDICATES", "MAX_DEPTH", "MAX_NODES", "balanced"]


class ParseError(ExprTextError):
    """A syntax error at a 0-based offset in the expression text."""


# How deep an expression may nest (hub content: 14 at most). Deeper text is a load error, never a RecursionError
# in the parser, the code generator or Python's own compiler (which refuses 200 nested parentheses).
MAX_DEPTH = 50
# How many syntax nodes one expression may have: a larger text is a load error instead of seconds of compiling.
# expr's own default is 10,000 (conf.DefaultMaxNodes; the hub's largest, a sigma rule, has about 8,000); synsec
# allows more, so 1,500-term sigma-style `or` lists (12,000) still compile.
MAX_NODES = 25_000
MAX_TOKENS = 4 * MAX_NODES     # tokenizing stops there (a node takes at most a few tokens: `(x)`, commas)


# expr v1.17 parser/operator: name -> (precedence, right-associative)
BINARY: dict[str, tuple[int, bool]] = {
    "|": (0, False), "or": (10, False), "||": (10, False), "and": (15, False), "&&": (15, False),
    "==": (20, False), "!=": (20, False), "<": (20, False), ">": (20, False), ">=": (20, False),
    "<=": (20, False), "in": (20, False), "matches": (20, False), "contains": (20, False),
    "startsWith": (20, False), "endsWith": (20, False), "..": (25, False), "+": (30, False),
    "-": (30, False), "*": (60, False), "/": (60, False), "%": (60, False), "**": (100, True),
    "^": (100, True), "??": (500, False),
}
UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_NEGATABLE = frozenset({"contains", "matches", "startsWith", "endsWith", "in"})
_COMPARISON = frozenset({"<", ">", "<=", ">="})     # chained: `a < b < c` is `a < b and b < c` (expr IsComparison)
_NORMAL = {"||": "or", "&&": "and", "!": "not", "^": "**"}
_LOGICAL = frozenset({"and", "or"})
# predicate builtins: how many leading plain arguments, then the closure, then optional extras
PREDICATES: dict[str, tuple[int, bool]] = {
    "all": (1, False), "none": (1, False), "any": (1, False), "one": (1, False), "filter": (1, False),
    "map": (1, False), "count": (1, True), "sum": (1, True), "find": (1, False), "findIndex": (1, False),
    "findLast": (1, False), "findLastIndex": (1, False), "groupBy": (1, False), "sortBy": (1, False),
    "reduce": (1, False),
}


def parse(text: str) -> Node:
    """Parse one expression; raise ParseError (with the offset) on bad syntax."""
    try:
        tokens = tokenize(text, MAX_TOKENS)
    except LexError as err:
        raise ParseError(err.message, err.pos) from None
    p = _Parser(tokens)
    node = p.sequence()
    if p.cur.kind != "eof":
        p.fail(f"unexpected token {p.cur}")
    if tree_depth(node, MAX_DEPTH) > MAX_DEPTH:        # long `a.b.c...` or `a + b + ...` chains
        raise ParseError(f"expression nested too deeply (more than {MAX_DEPTH} levels)", node.pos)
    if tree_size(node, MAX_NODES) > MAX_NODES:         # long lists, sequences, `or` chains
        raise ParseError(f"expression too large (more than {MAX_NODES} nodes)", node.pos)
    return node


def balanced(top: Binary, run: int) -> Node:
    """The `run` same-operator `and`/`or` nodes at the top of a left-leaning chain, rebuilt as a balanced tree.

    `a or b or c or ...` (a sigma-style list) would otherwise nest once per operand; `and`/`or` are associative,
    and the operands keep their order, so evaluation (and short-circuit) order is unchanged."""
    items: list[Node] = []
    places: list[int] = []
    node: Node = top
    for _ in range(run):
        assert isinstance(node, Binary)
        items.append(node.right)
        places.append(node.pos)
        node = node.left
    items.append(node)
    items.reverse()
    places.reverse()
    return _join(top.op, items, places)


def _join(op: str, items: list[Node], places: list[int]) -> Node:
    if len(items) == 1:
        return items[0]
    k = len(items) // 2
    return Binary(places[k - 1], op, _join(op, items[:k], places[:k - 1]), _join(op, items[k:], places[k:]))


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0
        self.cur = tokens[0]
        self.depth = 0        # predicate closures open (`#` is allowed inside one)
        self.nesting = 0      # expression() calls open: bounded by MAX_DEPTH

    def fail(self, message: str, tok: Token | None = None):
        raise ParseError(message, (tok or self.cur).pos)

    def advance(self) -> Token:
        tok = self.cur
        if self.i + 1 < len(self.tokens):
            self.i += 1
        self.cur = self.tokens[self.i]
        return tok

    def expect(self, kind: str, value: str | None = None) -> Token:
        if self.cur.kind == kind and (value is None or self.cur.value == value):
            return self.advance()
        self.fail(f"unexpected token {self.cur}" + (f", expected {value!r}" if value else ""))

    def expression(self, precedence: int) -> Node:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            self.fail(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        try:
            if precedence == 0 and self.cur.is_("op", "let"):
                return self.let()
            if precedence == 0 and self.cur.is_("op", "if"):
                return self.if_else()
            left = self.operators(self.primary(), precedence)
            return self.conditional(left) if precedence == 0 else left
        finally:
            self.nesting -= 1

    def operators(self, left: Node, precedence: int) -> Node:
        """The binary operators after `left` that bind at least as tightly as `precedence`."""
        prev = ""
        run = 0              # `and`/`or` of one kind just chained onto left, balanced when the run ends
        while self.cur.kind == "op":
            tok = self.cur
            negate = tok.value == "not"
            if negate:
                nxt = self.tokens[self.i + 1]
                if nxt.kind != "op" or nxt.value not in _NEGATABLE:
                    self.fail(f"unexpected token {nxt}", nxt)
                if BINARY[nxt.value][0] < precedence:
                    break
                self.advance()
                tok = self.cur
            entry = BINARY.get(tok.value)
            if entry is None or entry[0] < precedence:
                break
            self.advance()
            op = _NORMAL.get(tok.value, tok.value)
            if run and op != left.op:
                left, run = balanced(left, run), 0
            if tok.value == "|":
                name = self.expect("ident")
                left = self.call(name, [left])
                prev = tok.value
                continue
            if prev == "??" and tok.value != "??":
                self.fail(f"Operator ({tok.value}) and coalesce expressions (??) cannot be mixed. "
                          "Wrap either by parentheses.", tok)
            if tok.value in _COMPARISON and not negate:
                left = self.comparison(left, tok)
            else:
                right = self.expression(entry[0] if entry[1] else entry[0] + 1)
                left = Binary(tok.pos, op, left, right)
                if negate:
                    left = Unary(tok.pos, "not", left)
                run = run + 1 if op in _LOGICAL and not negate else 0
            prev = tok.value
        return balanced(left, run) if run else left

    def comparison(self, left: Node, tok: Token) -> Node:
        """`a < b < c` means `a < b && b < c`, as in expr."""
        root: Node | None = None
        while True:
            right = self.expression(21)
            node = Binary(tok.pos, tok.value, left, right)
            root = node if root is None else Binary(tok.pos, "and", root, node)
            left = right
            if not (self.cur.kind == "op" and self.cur.value in _COMPARISON):
                return root
            tok = self.advance()

    def sequence(self) -> Node:
        """`a; b; c` (one trailing `;` allowed at the end of the text), or a single expression."""
        items = [self.expression(0)]
        while self.cur.is_("op", ";"):
            self.advance()
            if self.cur.kind == "eof":
                break
            items.append(self.expression(0))
        return items[0] if len(items) == 1 else Sequence(items[0].pos, tuple(items))

    def let(self) -> Node:
        """`let name = value; body`: name is visible in body only."""
        self.expect("op", "let")
        name = self.expect("ident")
        self.expect("op", "=")
        value = self.expression(0)
        self.expect("op", ";")
        return Let(name.pos, name.value, value, self.sequence())

    def block(self) -> Node:
        self.expect("bracket", "{")
        node = self.sequence()
        self.expect("bracket", "}")
        return node

    def if_else(self) -> Node:
        """`if cond { a } else { b }` and `else if` chains: expr's ternary written as a statement."""
        tok = self.expect("op", "if")
        cond = self.expression(0)
        then = self.block()
        self.expect("op", "else")
        other = self.expression(0) if self.cur.is_("op", "if") else self.block()
        return Conditional(tok.pos, cond, then, other)

    def conditional(self, node: Node) -> Node:
        while self.cur.is_("op", "?"):
            tok = self.advance()
            if self.cur.is_("op", ":"):       # `a ?: b` is `a ? a : b`
                self.advance()
                then, other = node, self.expression(0)
            else:
                then = self.expression(0)
                self.expect("op", ":")
                other = self.expression(0)
            node = Conditional(tok.pos, node, then, other)
        return node

    def primary(self) -> Node:
        tok = self.cur
        if tok.kind == "op" and tok.value in UNARY:
            self.advance()
            operand = self.expression(UNARY[tok.value])
            return self.postfix(Unary(tok.pos, _NORMAL.get(tok.value, tok.value), operand))
        if tok.is_("bracket", "("):
            self.advance()
            node = self.sequence()
            self.expect("bracket", ")")
            return self.postfix(node)
        if tok.is_("op", "#") or tok.is_("op", "."):
            if self.depth == 0:
                self.fail("cannot use pointer accessor outside predicate")
            name = ""
            if tok.value == "#":
                self.advance()
                if self.cur.kind == "ident":
                    name = self.advance().value
                return self.postfix(Pointer(tok.pos, name))
            return self.postfix(Pointer(tok.pos, ""), dot_is_member=True)
        return self.secondary()

    def secondary(self) -> Node:
        tok = self.cur
        if tok.kind == "ident":
            self.advance()
            if tok.value in ("true", "false", "nil"):
                return self.postfix(Const(tok.pos, {"true": True, "false": False, "nil": None}[tok.value]))
            if self.cur.is_("bracket", "("):
                return self.postfix(self.call(tok, []))
            return self.postfix(Ident(tok.pos, tok.value))
        if tok.kind == "number":
            self.advance()
            return self.postfix(Const(tok.pos, self.number(tok)))
        if tok.kind == "string":
            self.advance()
            return self.postfix(Const(tok.pos, tok.value))
        if tok.is_("bracket", "["):
            return self.postfix(self.array())
        if tok.is_("bracket", "{"):
            return self.postfix(self.mapping())
        self.fail(f"unexpected token {tok}")

    def number(self, tok: Token) -> int | float:
        text = tok.value.replace("_", "")
        low = text.lower()
        try:
            if low.startswith(("0x", "0b", "0o")):
                value: int | float = int(text, 0)
            elif "." in low or "e" in low:
                value = float(text)
            else:
                value = int(text, 10)
        except ValueError:
            self.fail(f"invalid number literal {tok.value!r}", tok)
        if isinstance(value, int) and value > 2**63 - 1:
            self.fail("integer literal is too large", tok)
        return value

    def call(self, name: Token, args: list[Node]) -> Node:
        spec = PREDICATES.get(name.value)
        if spec is None:
            return Call(name.pos, name.value, tuple(args + self.arguments()))
        self.expect("bracket", "(")
        if not args:
            args.append(self.expression(0))
            self.expect("op", ",") if not (spec[1] and self.cur.is_("bracket", ")")) else None
        if not (spec[1] and self.cur.is_("bracket", ")")):
            args.append(self.predicate())
            while self.cur.is_("op", ","):
                self.advance()
                if self.cur.is_("bracket", ")"):
                    break
                args.append(self.expression(0))
        self.expect("bracket", ")")
        return Builtin(name.pos, name.value, tuple(args))

    def arguments(self) -> list[Node]:
        self.expect("bracket", "(")
        args: list[Node] = []
        while not self.cur.is_("bracket", ")"):
            if args:
                self.expect("op", ",")
                if self.cur.is_("bracket", ")"):
                    break
            args.append(self.expression(0))
        self.expect("bracket", ")")
        return args

    def predicate(self) -> Node:
        tok = self.cur
        braced = tok.is_("bracket", "{")
        if braced:
            self.advance()
        self.depth += 1
        body = self.sequence() if braced else self.expression(0)
        self.depth -= 1
        if braced:
            self.expect("bracket", "}")
        elif self.cur.is_("op", ";"):
            self.fail("wrap predicate with brackets { and }")
        return Predicate(tok.pos, body)

    def array(self) -> Node:
        tok = self.expect("bracket", "[")
        items: list[Node] = []
        while not self.cur.is_("bracket", "]"):
            if items:
                self.expect("op", ",")
                if self.cur.is_("bracket", "]"):
                    break
            items.append(self.expression(0))
        self.expect("bracket", "]")
        return ArrayLit(tok.pos, tuple(items))

    def mapping(self) -> Node:
        tok = self.expect("bracket", "{")
        pairs: list[tuple[Node, Node]] = []
        while not self.cur.is_("bracket", "}"):
            if pairs:
                self.expect("op", ",")
                if self.cur.is_("bracket", "}"):
                    break
            key_tok = self.cur
            if key_tok.kind in ("number", "string", "ident"):
                self.advance()
                key: Node = Const(key_tok.pos, key_tok.value)
            elif key_tok.is_("bracket", "("):
                key = self.expression(0)
            else:
                self.fail("a map key must be a quoted string, a number, a identifier, or an expression "
                          f"enclosed in parentheses (unexpected token {key_tok})")
            self.expect("op", ":")
            pairs.append((key, self.expression(0)))
        self.expect("bracket", "}")
        return MapLit(tok.pos, tuple(pairs))

    def postfix(self, node: Node, dot_is_member: bool = False) -> Node:
        chained = False
        while self.cur.kind in ("op", "bracket"):
            tok = self.cur
            if tok.value in (".", "?.") and (tok.kind == "op"):
                optional = tok.value == "?."
                self.advance()
                if optional and self.cur.is_("bracket", "["):
                    node = self.index(node, optional=True)
                    chained = True
                    continue
                prop = self.advance()
                if prop.kind != "ident" and not (prop.kind == "op" and prop.value.isidentifier()):
                    self.fail("expected name", prop)
                if self.cur.is_("bracket", "("):
                    node = MethodCall(prop.pos, node, prop.value, tuple(self.arguments()), optional)
                else:
                    node = Member(prop.pos, node, Const(prop.pos, prop.value), optional)
                chained = chained or optional
            elif tok.is_("bracket", "["):
                self.advance()
                node = self.index(node, optional=False)
            else:
                break
        return Chain(node.pos, node) if chained else node

    def index(self, node: Node, optional: bool) -> Node:
        """After `[` (already consumed unless optional): an index or a slice."""
        tok = self.cur
        if optional:
            self.advance()
        if self.cur.is_("op", ":"):
            self.advance()
            stop = None if self.cur.is_("bracket", "]") else self.expression(0)
            self.expect("bracket", "]")
            return Slice(tok.pos, node, None, stop)
        start = self.expression(0)
        if self.cur.is_("op", ":"):
            self.advance()
            stop = None if self.cur.is_("bracket", "]") else self.expression(0)
            self.expect("bracket", "]")
            return Slice(tok.pos, node, start, stop)
        self.expect("bracket", "]")
        return Member(tok.pos, node, start, optional)
