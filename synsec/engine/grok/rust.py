"""Go/RE2 regex text rewritten for Rust's `regex` crate (through the `paula` binding), with the same meaning.

Why a second engine: on long, capture-heavy groks (the hub's nginx access pattern carries IPV6 twice, a
3,943-instruction RE2 program) RE2 must run its NFA to find submatches, about 20 µs a line; Rust's regex runs a
bounded backtracker there and does it in about 6 µs. Both are linear-time automata engines with leftmost-first
semantics, so they give the same groups; a differential test over the hub's patterns holds them to it.

The meaning differs in a few places, which this module rewrites or refuses (None: the grok stays on RE2):
* Perl classes and word boundaries are Unicode in Rust, ASCII in Go: `\\d \\w \\s \\b` (and negations) become
  explicit ASCII sets, `(?-u:\\b)`;
* `\\<` and `\\>` are word boundaries in Rust, literals in Go: literals are re-emitted canonically;
* inside a class, Rust reads `[` as a nested class and `&&`, `--`, `~~` as set operations: `[`, `&`, `~` are
  escaped, and a `--` refuses;
* octal escapes, `\\C` and `\\Q…\\E` with no text refuse.
"""

from __future__ import annotations

from .syntax import tokenize

__all__ = ["to_rust", "capture_names", "literal"]

_PERL = {
    "d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r ",
}
_ESCAPED = frozenset("\\.+*?()|[]{}^$#&-~")  # what may be special in Rust outside a class
_PASS_ESCAPES = frozenset("AzpPxtnrfva")     # same meaning in both dialects


def _literal(c: str) -> str:
    return "\\" + c if c in _ESCAPED else c


def literal(text: str) -> str:
    """A Rust regex matching `text` literally."""
    return "".join(map(_literal, text))


def _perl(c: str, in_class: bool) -> str:
    body = _PERL[c.lower()]
    if c.islower():
        return body if in_class else f"[{body}]"
    return f"[^{body}]"


def _escape_atom(text: str) -> str | None:
    """A non-class escape atom (`\\d`, `\\b`, `\\pL`, `\\x41`…) in Rust syntax, or None."""
    c = text[1:2]
    if c.lower() in _PERL:
        return _perl(c, False)
    if c in ("b", "B"):
        return f"(?-u:\\{c})"
    if c in _PASS_ESCAPES:
        return text
    return None


def _class(text: str) -> str | None:
    """A bracket class `[...]` in Rust syntax, or None."""
    out = ["["]
    i, n = 1, len(text) - 1              # text[-1] is the closing ']'
    if text[i:i + 1] == "^":
        out.append("^")
        i += 1
    if text[i:i + 1] == "]":
        out.append("\\]")
        i += 1
    while i < n:
        c = text[i]
        if c == "\\":
            e = text[i + 1:i + 2]
            if e.lower() in _PERL:
                out.append(_perl(e, True))
            elif e in _PASS_ESCAPES and e not in "Az":
                j = i + 2
                if e in "pPx" and text[j:j + 1] == "{":
                    j = text.index("}", j) + 1
                elif e in "pP":
                    j += 1
                elif e == "x":
                    j += 2
                out.append(text[i:j])
                i = j
                continue
            elif e and not e.isalnum():
                out.append("\\" + e)
            else:
                return None
            i += 2
        elif c == "[" and text.startswith("[:", i):
            end = text.index(":]", i + 2) + 2
            out.append(text[i:end])
            i = end
        elif c == "-" and text[i + 1:i + 2] == "-":
            return None
        elif c in "[&~":
            out.append("\\" + c)
            i += 1
        else:
            out.append(c)
            i += 1
    out.append("]")
    return "".join(out)


def to_rust(regex: str) -> str | None:
    """`regex` (Go syntax, as RE2 compiles it) in Rust regex syntax, or None when it is not translated."""
    out = []
    for tok in tokenize(regex):
        if tok.kind == "lit":
            out.append(_literal(tok.value))
        elif tok.kind == "atom":
            if tok.text in (".", "^", "$"):
                piece = tok.text
            elif tok.text.startswith("["):
                piece = _class(tok.text)
            elif tok.text.startswith("\\"):
                piece = _escape_atom(tok.text)
            else:
                piece = None
            if piece is None:
                return None
            out.append(piece)
        elif tok.kind == "open" and tok.text.startswith("(?<"):
            out.append("(?P<" + tok.text[3:])
        else:                            # groups, flags, alternation, quantifiers: the same syntax
            out.append(tok.text)
    return "".join(out)


def capture_names(regex: str) -> list[str | None]:
    """The capturing groups of `regex` in number order (None for an unnamed one), as both engines number them."""
    names: list[str | None] = []
    for tok in tokenize(regex):
        if tok.kind != "open":
            continue
        if tok.text == "(":
            names.append(None)
        elif tok.text.startswith(("(?P<", "(?<")):
            names.append(tok.text[tok.text.index("<") + 1:-1])
    return names
