"""A small tokenizer for Go/RE2 regex text: enough structure to strip raw named groups and find literals.

It does not validate (RE2 does that when the expanded regex is compiled); it only has to agree with RE2 on
where escapes, character classes, groups, alternations and quantifiers start and end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Token", "tokenize", "uncapture"]

# Token kinds:
#   lit    one literal character (value = the character)
#   atom   something that matches a character or a position but is not a fixed literal (., \d, [..], ^, $, \b)
#   open   a group opener: "(", "(?:", "(?i:", "(?P<n>", "(?<n>"   (value = its flags, "" for none)
#   flags  a bare flag setter "(?i)" / "(?-s)" (value = the flags text)
#   close  ")"
#   alt    "|"
#   quant  "*", "+", "?", "{n}", "{n,}", "{n,m}", each optionally followed by "?" (value = min repeats)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    value: str | int = ""


_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}\??")
_FLAGS = re.compile(r"\(\?([imsU-]*)(\)|:)")
_NAMED = re.compile(r"\(\?P?<([^>]*)>")
_ESC_LONG = re.compile(r"\\(?:[pP](?:\{[^}]*\}|.)|x(?:\{[^}]*\}|[0-9A-Fa-f]{0,2})|[0-7]{1,3})", re.S)


def _class_end(text: str, i: int) -> int:
    """Index just past the character class that opens at text[i] == '['."""
    j = i + 1
    if j < len(text) and text[j] == "^":
        j += 1
    if j < len(text) and text[j] == "]":  # a leading ']' is a literal
        j += 1
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
        elif c == "[" and text.startswith("[:", j):
            end = text.find(":]", j + 2)
            j = end + 2 if end >= 0 else j + 1
        elif c == "]":
            return j + 1
        else:
            j += 1
    return len(text)


def _escape(text: str, i: int) -> tuple[Token | list[Token], int]:
    """Tokens for the escape at text[i] == '\\' and the index after it."""
    if i + 1 >= len(text):
        return Token("atom", "\\"), i + 1
    c = text[i + 1]
    if c == "Q":  # \Q...\E quotes everything up to \E (or the end)
        end = text.find("\\E", i + 2)
        body_end = len(text) if end < 0 else end
        stop = len(text) if end < 0 else end + 2
        lits = [Token("lit", ch, ch) for ch in text[i + 2 : body_end]]
        if lits:  # carry \Q and \E on the first and last tokens so that joining texts round-trips
            lits[0] = Token("lit", "\\Q" + lits[0].text, lits[0].value)
            lits[-1] = Token("lit", lits[-1].text + text[body_end:stop], lits[-1].value)
        else:
            lits = [Token("atom", text[i:stop])]  # empty quote: matches the empty string
        return lits, stop
    if c.isascii() and not (c.isalnum() or c == "_"):
        return Token("lit", text[i : i + 2], c), i + 2
    m = _ESC_LONG.match(text, i)
    end = m.end() if m else i + 2
    return Token("atom", text[i:end]), end


def tokenize(text: str) -> list[Token]:
    """Split Go/RE2 regex text into tokens whose texts join back to `text`."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            tok, i = _escape(text, i)
            out.extend(tok if isinstance(tok, list) else [tok])
        elif c == "[":
            end = _class_end(text, i)
            out.append(Token("atom", text[i:end]))
            i = end
        elif c == "(":
            tok = _group_open(text, i)
            out.append(tok)
            i += len(tok.text)
        elif c == ")":
            out.append(Token("close", c))
            i += 1
        elif c == "|":
            out.append(Token("alt", c))
            i += 1
        elif c in "*+?":
            lazy = i + 1 < n and text[i + 1] == "?"
            out.append(Token("quant", text[i : i + 1 + lazy], 1 if c == "+" else 0))
            i += 1 + lazy
        elif c == "{" and (m := _REPEAT.match(text, i)):
            out.append(Token("quant", m.group(0), int(m.group(1))))
            i = m.end()
        elif c in ".^$":
            out.append(Token("atom", c))
            i += 1
        else:
            out.append(Token("lit", c, c))
            i += 1
    return out


def _group_open(text: str, i: int) -> Token:
    if not text.startswith("(?", i):
        return Token("open", "(")
    m = _FLAGS.match(text, i)
    if m:
        kind = "flags" if m.group(2) == ")" else "open"
        return Token(kind, m.group(0), m.group(1))
    m = _NAMED.match(text, i)
    if m:
        return Token("open", m.group(0), "")
    return Token("open", text[i : i + 2], "")  # lookaround and other syntax RE2 will reject


def uncapture(text: str) -> str:
    """Make every capturing group non-capturing: `(..)`, `(?P<n>..)`, `(?<n>..)` all become `(?:..)`.

    Grok fields come only from %{X:field} (grokky reads nothing else), and each capture RE2 does not have to
    track makes the submatch pass cheaper (IPV6 alone holds dozens of plain groups).
    """
    if "(" not in text:
        return text
    parts = []
    for tok in tokenize(text):
        if tok.kind == "open" and (tok.text == "(" or _NAMED.fullmatch(tok.text)):
            parts.append("(?:")
        else:
            parts.append(tok.text)
    return "".join(parts)
