"""Find a literal that every match of a regex must contain, so a cheap `in` test can skip the regex.

Conservative by construction: literals are collected only from concatenations that every match must pass
through — never from inside an alternation, an optional or starred item, or a case-insensitive scope. When in
doubt the answer is None (no prefilter), which is always correct.
"""

from __future__ import annotations

from .syntax import Token, tokenize

__all__ = ["required_literal", "MIN_LITERAL"]

# Shorter literals reject too few lines to pay for the extra `in` test.
MIN_LITERAL = 3


def required_literal(regex: str) -> str | None:
    """The longest literal (at least MIN_LITERAL characters) that any match of `regex` contains, or None."""
    tokens = tokenize(regex)
    pos, alts = _group(tokens, 0)
    if pos != len(tokens) or len(alts) != 1:  # unbalanced text, or a top-level alternation
        return None
    best = max(_runs(alts[0], case_insensitive=False), key=len, default="")
    return best if len(best) >= MIN_LITERAL else None


# An item is (token, children, min_repeats, quantified); children lists a group's alternatives, else None.
Item = tuple[Token, "list[list[Item]] | None", int, bool]


def _group(tokens: list[Token], pos: int) -> tuple[int, list[list[Item]]]:
    """Parse alternatives from `pos` up to the matching close (or the end); return the position after it."""
    alts: list[list[Item]] = [[]]
    while pos < len(tokens):
        tok = tokens[pos]
        pos += 1
        if tok.kind == "close":
            return pos, alts
        if tok.kind == "alt":
            alts.append([])
            continue
        if tok.kind == "quant":
            seq = alts[-1]
            if seq:  # a quantifier applies to the item before it; stacked quantifiers multiply minimums
                last_tok, children, low, _ = seq[-1]
                seq[-1] = (last_tok, children, low * int(tok.value), True)
            continue
        children = None
        if tok.kind == "open":
            pos, children = _group(tokens, pos)
        alts[-1].append((tok, children, 1, False))
    return pos, alts


def _runs(seq: list[Item], case_insensitive: bool) -> list[str]:
    """Literal strings that any match of the concatenation `seq` must contain."""
    runs: list[str] = []
    current = ""
    for tok, children, low, quantified in seq:
        if tok.kind == "lit" and not case_insensitive and low >= 1:
            current += str(tok.value)  # x, x+, x{2,}: x is there at least once
            if not quantified:
                continue  # a plain literal: the run goes on
        if current:
            runs.append(current)
            current = ""
        if tok.kind == "flags" and "i" in str(tok.value):
            case_insensitive = True  # conservative: even (?-i) keeps the rest of this scope out
        elif tok.kind == "open" and children is not None and low >= 1 and len(children) == 1:
            if "i" not in str(tok.value):
                runs.extend(_runs(children[0], case_insensitive))
    if current:
        runs.append(current)
    return runs
