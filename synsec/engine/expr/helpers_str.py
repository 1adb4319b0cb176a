"""String helpers with Go's `strings` semantics (CrowdSec exprhelpers/strings.go and expr builtins)."""

from __future__ import annotations

from .registry import helper
from .runtime import MAX_STRING

__all__ = ["go_upper", "go_lower", "byte_index", "GO_SPACE"]

GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
           "\u2028\u2029\u202f\u205f\u3000"


def _s(x) -> str:
    if x.__class__ is not str:
        raise TypeError(f"expected string, got {type(x).__name__}")
    return x


_last_upper: list = [None, ""]


def go_upper(s: str) -> str:
    """strings.ToUpper: one rune at a time (Python's full mapping would turn 'ß' into 'SS').

    Hub scenarios upper-case the same field of the same event dozens of times (one per CVE filter):
    the last result is kept and reused when the very same string object comes again."""
    last = _last_upper
    if s is last[0]:
        return last[1]
    if _s(s).isascii():
        out = s.upper()
    else:
        out = "".join(u if len(u := c.upper()) == 1 else c for c in s)
    last[0], last[1] = s, out
    return out


def go_lower(s: str) -> str:
    if _s(s).isascii():
        return s.lower()
    return "".join(u if len(u := c.lower()) == 1 else c for c in s)


def byte_index(s: str, i: int) -> int:
    """Go indexes strings by UTF-8 byte: convert a character index."""
    return i if i < 0 or s.isascii() else len(s[:i].encode("utf-8", "surrogateescape"))


def _split(s: str, sep: str, n: int = -1, after: bool = False) -> list[str] | None:
    _s(s), _s(sep)
    if n == 0:
        return None
    if sep == "":
        chars = list(s)
        if n > 0 and len(chars) > n:
            chars = chars[:n - 1] + ["".join(chars[n - 1:])]
        return chars
    parts = s.split(sep, n - 1) if n > 0 else s.split(sep)
    if after:
        parts = [p + sep for p in parts[:-1]] + parts[-1:]
    return parts


helper("Upper", 1, returns="str", pure=True)(go_upper)
helper("Lower", 1, returns="str", pure=True)(go_lower)
helper("upper", 1, returns="str", pure=True)(go_upper)
helper("lower", 1, returns="str", pure=True)(go_lower)


@helper("TrimSpace", 1, returns="str", pure=True)
def trim_space(s):
    return _s(s).strip(GO_SPACE)


@helper("Trim", 2, returns="str", pure=True)
def trim(s, cutset):
    return _s(s).strip(_s(cutset)) if cutset else s


@helper("trim", 1, 2, returns="str", pure=True)
def trim_builtin(s, cutset=None):
    return trim_space(s) if cutset is None else trim(s, cutset)


@helper("TrimLeft", 2, returns="str", pure=True)
def trim_left(s, cutset):
    return _s(s).lstrip(_s(cutset)) if cutset else s


@helper("TrimRight", 2, returns="str", pure=True)
def trim_right(s, cutset):
    return _s(s).rstrip(_s(cutset)) if cutset else s


@helper("TrimPrefix", 2, returns="str", pure=True)
def trim_prefix(s, prefix):
    return _s(s).removeprefix(_s(prefix))


@helper("TrimSuffix", 2, returns="str", pure=True)
def trim_suffix(s, suffix):
    return _s(s).removesuffix(_s(suffix))


@helper("trimPrefix", 1, 2, returns="str", pure=True)
def trim_prefix_builtin(s, prefix=" "):
    return trim_prefix(s, prefix)


@helper("trimSuffix", 1, 2, returns="str", pure=True)
def trim_suffix_builtin(s, suffix=" "):
    return trim_suffix(s, suffix)


@helper("Split", 2, returns="list", pure=True)
def split(s, sep):
    return _split(s, sep)


@helper("SplitN", 3, returns="list", pure=True)
def split_n(s, sep, n):
    return _split(s, sep, n)


@helper("SplitAfter", 2, returns="list", pure=True)
def split_after(s, sep):
    return _split(s, sep, after=True)


@helper("SplitAfterN", 3, returns="list", pure=True)
def split_after_n(s, sep, n):
    return _split(s, sep, n, after=True)


@helper("split", 2, 3, returns="list", pure=True)
def split_builtin(s, sep, n=-1):
    return _split(s, sep, n)


@helper("splitAfter", 2, 3, returns="list", pure=True)
def split_after_builtin(s, sep, n=-1):
    return _split(s, sep, n, after=True)


@helper("Join", 2, returns="str", pure=True)
def join(items, sep):
    return _s(sep).join(_s(x) for x in (items or ()))


@helper("join", 1, 2, returns="str", pure=True)
def join_builtin(items, sep=""):
    return join(items, sep)


@helper("Fields", 1, returns="list", pure=True)
def fields(s):
    return _s(s).split()


def _bounded(length: int, what: str) -> None:
    """Refuse to build a string longer than MAX_STRING (a runtime error, not a MemoryError)."""
    if length > MAX_STRING:
        raise ValueError(f"{what}: result of {length} characters is longer than {MAX_STRING}")


@helper("Replace", 4, returns="str", pure=True)
def replace(s, old, new, n):
    _s(s), _s(old), _s(new)
    if n.__class__ is not int:
        raise TypeError(f"expected int, got {type(n).__name__}")
    count = s.count(old) if old else len(s) + 1
    count = count if n < 0 else min(n, count)
    _bounded(len(s) + count * (len(new) - len(old)), "Replace")
    return s.replace(old, new, n if n >= 0 else -1)


@helper("ReplaceAll", 3, returns="str", pure=True)
def replace_all(s, old, new):
    return replace(s, old, new, -1)


@helper("replace", 3, returns="str", pure=True)
def replace_builtin(s, old, new):
    return replace_all(s, old, new)


@helper("Index", 2, returns="int", pure=True)
def index(s, sub):
    return byte_index(s, _s(s).find(_s(sub)))


@helper("indexOf", 2, returns="int", pure=True)
def index_of(s, sub):
    return index(s, sub)


@helper("lastIndexOf", 2, returns="int", pure=True)
def last_index_of(s, sub):
    return byte_index(s, _s(s).rfind(_s(sub)))


@helper("IndexAny", 2, returns="int", pure=True)
def index_any(s, chars):
    positions = [i for i, c in enumerate(_s(s)) if c in _s(chars)]
    return byte_index(s, positions[0]) if positions else -1


@helper("hasPrefix", 2, returns="bool", pure=True)
def has_prefix(s, prefix):
    return _s(s).startswith(_s(prefix))


@helper("hasSuffix", 2, returns="bool", pure=True)
def has_suffix(s, suffix):
    return _s(s).endswith(_s(suffix))


@helper("repeat", 2, returns="str", pure=True)
def repeat(s, n):
    if n.__class__ is not int:
        raise TypeError(f"expected int, got {type(n).__name__}")
    if n < 0:
        raise ValueError("negative repeat count")
    _bounded(len(_s(s)) * n, "repeat")
    return s * n


_MATCH_STEPS = 200_000        # (pattern, name) positions Match may visit: about a second of work


@helper("Match", 2, returns="bool", pure=True)
def match(pattern, name):
    """CrowdSec's glob: `*` matches any run, `?` one character; an empty name matches only "" or "*".

    CrowdSec's recursion, memoized and run on an explicit stack (no Python recursion limit): only the
    positions the recursion would visit are, at most _MATCH_STEPS of them."""
    pattern, name = _s(pattern), _s(name)
    size, end = len(pattern), len(name)
    memo: dict[tuple[int, int], bool] = {}
    stack = [(0, 0)]
    while stack:
        state = stack[-1]
        if state in memo:
            stack.pop()
            continue
        if len(memo) >= _MATCH_STEPS:
            raise ValueError(f"Match: pattern and name too long ({size} x {end} characters)")
        value, child = _match_step(pattern, name, state, memo)
        if child is not None:
            stack.append(child)
            continue
        memo[state] = value
        stack.pop()
    return memo[(0, 0)]


def _match_step(pattern: str, name: str, state: tuple[int, int], memo: dict) -> tuple[bool, tuple | None]:
    """(value of state, None) when its value is known, else (_, the position to compute first)."""
    p, n = state
    if p == len(pattern):
        return n == len(name), None
    if n == len(name):
        return p == len(pattern) - 1 and pattern[p] == "*", None
    if pattern[p] == "*":              # any(m(p+1, i) for i in n..end) == m(p+1, n) or the same from n+1
        first = (p + 1, n)
        rest = (p, n + 1) if n + 1 < len(name) else (p + 1, len(name))
        for child in (first, rest):
            if child not in memo:
                return False, child
            if memo[child]:
                return True, None
        return False, None
    if pattern[p] == "?" or pattern[p] == name[n]:
        child = (p + 1, n + 1)
        return (memo[child], None) if child in memo else (False, child)
    return False, None
