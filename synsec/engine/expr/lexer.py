"""Tokens of expr-lang/expr v1.17: identifiers, numbers, Go-quoted strings, operators and brackets."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ExprTextError

__all__ = ["Token", "LexError", "tokenize", "WORD_OPERATORS"]

_DIGITS = frozenset("0123456789")     # Go's lexer: ASCII digits only (str.isdigit takes "١٧")

# Words the expr lexer turns into operators rather than identifiers.
WORD_OPERATORS = frozenset({"not", "and", "or", "in", "matches", "contains", "startsWith", "endsWith", "let",
                            "if", "else"})

# Longest first: the lexer tries three-, then two-, then one-character operators.
_OPERATORS = ("&&", "||", "==", "!=", "<=", ">=", "**", "??", "?.", "..", "::",
              "!", "<", ">", "+", "-", "*", "/", "%", "^", "?", ":", ",", ".", "#", "|", "=", ";")
_BRACKETS = "()[]{}"
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\", "'": "'", '"': '"', "`": "`"}


class LexError(ExprTextError):
    """A lexical error at a 0-based offset in the expression text."""


@dataclass(frozen=True, slots=True)
class Token:
    """One token: kind is 'ident', 'number', 'string', 'op', 'bracket' or 'eof'; pos is its offset."""

    kind: str
    value: str
    pos: int

    def is_(self, kind: str, *values: str) -> bool:
        return self.kind == kind and (not values or self.value in values)

    def __str__(self) -> str:
        return "end of expression" if self.kind == "eof" else f"{self.kind}({self.value!r})"


def tokenize(text: str, limit: int | None = None) -> list[Token]:
    """Split text into tokens, ending with an 'eof' token; raise LexError on bad input or past `limit` tokens."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if limit is not None and len(out) > limit:
            raise LexError(f"expression too large (more than {limit} tokens)", i)
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise LexError("unclosed comment", i)
            i = j + 2
        elif c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS
                             and not (out and out[-1].is_("op", ".."))):
            i = _number(text, i, out)
        elif c.isalpha() or c in "_$":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_$"):
                j += 1
            word = text[i:j]
            out.append(Token("op" if word in WORD_OPERATORS else "ident", word, i))
            i = j
        elif c in "\"'":
            i = _quoted(text, i, out)
        elif c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise LexError("literal not terminated", i)
            out.append(Token("string", text[i + 1:j], i))
            i = j + 1
        elif c in _BRACKETS:
            out.append(Token("bracket", c, i))
            i += 1
        else:
            i = _operator(text, i, out)
    out.append(Token("eof", "", n))
    return out


def _operator(text: str, i: int, out: list[Token]) -> int:
    for op in _OPERATORS:
        if text.startswith(op, i):
            if op == "?." and i + 2 < len(text) and text[i + 2] in _DIGITS:
                continue              # `a ?.5 : b` is a ternary, not optional chaining
            out.append(Token("op", op, i))
            return i + len(op)
    raise LexError(f"unrecognized character: {text[i]!r}", i)


def _number(text: str, i: int, out: list[Token]) -> int:
    n = len(text)
    j = i
    if text.startswith(("0x", "0X", "0b", "0B", "0o", "0O"), i):
        j = i + 2
        while j < n and (text[j].isalnum() or text[j] == "_"):
            j += 1
        out.append(Token("number", text[i:j], i))
        return j
    while j < n and (text[j] in _DIGITS or text[j] == "_"):
        j += 1
    if j < n and text[j] == "." and not text.startswith("..", j):
        j += 1
        while j < n and (text[j] in _DIGITS or text[j] == "_"):
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and text[k] in _DIGITS:
            j = k
            while j < n and text[j] in _DIGITS:
                j += 1
    if j < n and (text[j].isalpha() or text[j] == "_"):
        raise LexError(f"bad number syntax: {text[i:j + 1]!r}", i)
    out.append(Token("number", text[i:j], i))
    return j


def _quoted(text: str, i: int, out: list[Token]) -> int:
    quote = text[i]
    j = i + 1
    parts: list[str] = []
    n = len(text)
    while True:
        if j >= n:
            raise LexError("literal not terminated", i)
        c = text[j]
        if c == quote:
            break
        if c == "\n":
            raise LexError("literal not terminated", i)
        if c == "\\":
            value, j = _escape(text, j)
            parts.append(value)
            continue
        parts.append(c)
        j += 1
    out.append(Token("string", "".join(parts), i))
    return j + 1


def _escape(text: str, j: int) -> tuple[str, int]:
    """Decode one Go escape starting at the backslash text[j]; return (value, next offset)."""
    if j + 1 >= len(text):
        raise LexError("literal not terminated", j)
    c = text[j + 1]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], j + 2
    width = {"x": 2, "u": 4, "U": 8}.get(c)
    if width:
        digits = text[j + 2:j + 2 + width]
        if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise LexError("invalid char escape", j)
        code = int(digits, 16)
        if c != "x" and (code > 0x10FFFF or 0xD800 <= code <= 0xDFFF):
            raise LexError("invalid char escape", j)
        return chr(code), j + 2 + width
    if c in "01234567":
        digits = text[j + 1:j + 4]
        if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
            raise LexError("invalid char escape", j)
        return chr(int(digits, 8)), j + 4
    raise LexError("invalid char escape", j)
