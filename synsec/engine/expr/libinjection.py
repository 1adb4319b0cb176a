"""SQL injection and XSS detection in the manner of libinjection (LibInjectionIsSQLI / LibInjectionIsXSS).

SQLi: the text is tokenized as SQL three times — as it is, as if a single quote opened it, as if a double quote
did (the text closing a string the query opened) — into one-letter token kinds (k keyword, E statement, U union,
B group/order by, & logic, o operator, 1 number, s string, n bareword, v variable, f function, c comment,
( ) , ; punctuation); numeric and string expressions fold (`1=1` → `1`, unary signs go), and the first tokens'
kinds, the fingerprint, are matched against the shapes of an injection (`s&1`: a quote closed then OR 1=1;
`1UE`: UNION SELECT; `s;E`: a stacked statement; `sc`: a quote closed then the rest commented out…).
XSS: the text is read as HTML in five places — text, and an attribute value unquoted, in single, double or back
quotes (the text breaking out of it) — and is XSS when it opens a dangerous tag (script, iframe, svg…), gives an
event handler (`on…=`), a style or namespace attribute, a URL attribute whose value is `javascript:`,
`vbscript:`, `data:` or `view-source:` (entities decoded, blanks ignored), a doctype, or an IE conditional
comment. Both run in time linear in the text (one pass per reading, fingerprints of bounded length).
"""

from __future__ import annotations

import re

__all__ = ["is_sqli", "is_xss", "sqli_fingerprints"]

MAX_TOKENS = 8          # fingerprint length kept (libinjection keeps 5; folding needs a few more to look at)

_STATEMENTS = frozenset("""select insert update delete drop create alter truncate exec execute declare shutdown
    replace merge grant revoke waitfor load handler call rename""".split())
_KEYWORDS = frozenset("""from where into values table having limit offset all distinct as in is null then case
    when else end join inner outer left right on set procedure database schema union_all top cast convert
    information_schema sysobjects syscolumns if begin order group by asc desc into outfile dumpfile""".split())
_LOGIC = frozenset({"and", "or", "xor", "&&", "||"})
_WORD_OPERATORS = frozenset({"like", "rlike", "regexp", "not", "div", "mod", "sounds", "between", "escape"})
_FUNCTIONS = frozenset("""sleep benchmark pg_sleep load_file extractvalue updatexml concat concat_ws group_concat
    char chr ascii ord substring substr mid version user current_user system_user session_user database
    schema count length if ifnull isnull coalesce hex unhex md5 sha1 rand floor exp cast convert make_set
    elt name_const row_count found_rows last_insert_id dbms_pipe utl_inaddr xp_cmdshell openrowset
    randomblob unicode nchar""".split())
_OPERATOR_CHARS = "=<>!+-*/%^|&~"
_QUOTES = ("", "'", '"')
_UNARY = frozenset({"-", "+", "!", "~", "not"})

_SQLI_SHAPES = re.compile("|".join([
    r".*U\(*E",                              # UNION [ALL] SELECT
    r"s\)*&\(*[1svf(]",                      # ' OR 1=1, ' AND 'a'='a, ') OR (sleep(
    r"s\)*o\(*[1sv]\)*(&|c|;|$)",            # ' = '' --, '||'x'
    r"s\)*;\(*[EkU]",                        # '; DROP …  (stacked statement)
    r"s\)*c$",                               # admin'--  (the rest commented out)
    r"s\)*B",                                # ' ORDER BY 1
    r"s\)*U",                                # ' UNION
    r"s\)*E",                                # ' WAITFOR DELAY …, ' SELECT …
    r"[1n]\)*&\(*([1sv]\)*(c|;|$)|f\()",     # 1 OR 1=1, 1 AND sleep(
    r"[1n]\)*;\(*[EkU]",                     # 1; DROP TABLE
    r"1\)*[kB]\(*[1nsfv]",                   # 1 ORDER BY 1, 1 LIMIT 1
    r"E(o|f\(|v|1(k|,|$))",                  # SELECT *, SELECT version(, SELECT @@, SELECT 1 FROM
    r"[1s]\)*c\S*U",
]))


def _tokens(text: str, quote: str):
    """(kind, value) of the SQL tokens of `text`, read as if `quote` opened a string before it."""
    i, n = 0, len(text)
    if quote:
        end = _string_end(text, 0, quote)
        yield "s", text[:end]
        i = end + 1
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "'\"":
            end = _string_end(text, i + 1, c)
            yield "s", text[i + 1:end]
            i = end + 1
        elif c == "`":
            end = text.find("`", i + 1)
            end = n if end < 0 else end
            yield "n", text[i + 1:end]
            i = end + 1
        elif c == "#" or (c == "-" and text.startswith("--", i)):
            yield "c", ""
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if text.startswith("/*!", i):                 # MySQL's executable comment: its body is SQL
                j = i + 3
                while j < n and text[j].isdigit():
                    j += 1
                i = j
                continue
            if end < 0:
                yield "c", ""
                i = n
            else:
                i = end + 2
        elif c == "*" and text.startswith("*/", i):
            i += 2
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "."):
                j += 1
            yield "1", text[i:j]
            i = j
        elif c == "@":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_@$.`"):
                j += 1
            yield "v", text[i:j]
            i = j
        elif c in "(),;":
            yield c, c
            i += 1
        elif c in _OPERATOR_CHARS:
            j = i + 1
            while j < n and j - i < 3 and text[j] in _OPERATOR_CHARS and not text.startswith("--", j):
                j += 1
            op = text[i:j]
            yield ("&" if op in _LOGIC else "o"), op
            i = j
        elif c.isalpha() or c in "_$":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_$."):
                j += 1
            yield _word_kind(text, text[i:j].lower(), j), text[i:j].lower()
            i = j
        else:
            i += 1                                    # a character SQL has no use for


def _string_end(text: str, start: int, quote: str) -> int:
    """Index of the quote closing a string that starts at `start` (doubled quotes and backslashes escape);
    len(text) when it is not closed."""
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == quote:
            if i + 1 < n and text[i + 1] == quote:
                i += 2
            else:
                return i
        else:
            i += 1
    return n


def _word_kind(text: str, word: str, after: int) -> str:
    if word in _LOGIC:
        return "&"
    if word == "union":
        return "U"
    if word in _STATEMENTS:
        return "E"
    if word in ("order", "group") and re.match(r"\s+by\b", text[after:after + 8], re.I):
        return "B"
    if word in _WORD_OPERATORS:
        return "o"
    if word in _FUNCTIONS and re.match(r"\s*\(", text[after:after + 16]):
        return "f"
    if word in _KEYWORDS:
        return "k"
    return "n"


def _fingerprint(text: str, quote: str) -> str:
    """The folded kinds of the first tokens."""
    out: list[tuple[str, str]] = []
    for kind, value in _tokens(text, quote):
        if kind == "k" and value == "by" and out and out[-1][0] == "B":
            continue
        if kind == "o" and value in _UNARY and (not out or out[-1][0] in "&o(,;E"):
            continue                                       # a unary sign
        if kind in "1svn" and len(out) >= 2 and out[-1][0] == "o" and out[-2][0] in "1svn":
            out.pop()                                      # x op y → x
            continue
        if kind == "s" and out and out[-1][0] == "s":
            continue                                       # 'a' 'b': one string
        out.append((kind, value))
        if len(out) >= MAX_TOKENS:
            break
    return "".join(kind for kind, _ in out)


def sqli_fingerprints(text: str) -> list[str]:
    """The fingerprint of each reading (as it is, after a single quote, after a double quote)."""
    return [_fingerprint(text, q) for q in _QUOTES if not q or q in text]


def is_sqli(text: str) -> bool:
    """Whether `text` reads as an SQL injection in any of the three readings."""
    if not text:
        return False
    return any(_SQLI_SHAPES.match(fp) for fp in sqli_fingerprints(text))


# ---- XSS ----

_BLACK_TAGS = frozenset("""applet base comment embed frame frameset handler iframe import isindex link listener
    meta noscript object script style vmlframe xml xss""".split())
_URL_ATTRS = frozenset("""href src data action formaction background dynsrc lowsrc values from to by poster
    codebase cite longdesc usemap xlink:href""".split())
_BLACK_ATTRS = frozenset({"style", "xmlns", "xlink:href", "formaction", "srcdoc"})
_EVENTS = frozenset("""abort activate afterprint animationend animationiteration animationstart auxclick
    beforecopy beforecut beforeinput beforepaste beforeprint beforeunload begin blur bounce canplay canplaythrough
    change click close contextmenu copy cuechange cut dblclick drag dragend dragenter dragleave dragover dragstart
    drop durationchange emptied end ended error finish focus focusin focusout formdata fullscreenchange hashchange
    input invalid keydown keypress keyup load loadeddata loadedmetadata loadend loadstart message mousedown
    mouseenter mouseleave mousemove mouseout mouseover mouseup mousewheel offline online pagehide pageshow paste
    pause play playing pointerdown pointerenter pointerleave pointermove pointerout pointerover pointerrawupdate
    pointerup popstate progress ratechange readystatechange repeat reset resize scroll scrollend search seeked
    seeking select selectionchange selectstart show start stalled storage submit suspend timeupdate toggle
    touchcancel touchend touchmove touchstart transitioncancel transitionend transitionrun transitionstart
    unload volumechange waiting webkitanimationend webkittransitionend wheel""".split())
_BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "view-source:")
_ENTITY = re.compile(r"&#(x[0-9a-f]+|[0-9]+);?|&(colon|tab|newline);", re.I)
_NAMED = {"colon": ":", "tab": "\t", "newline": "\n"}
_XSS_STARTS = ("", "unquoted", "'", '"', "`")       # where the text is read: HTML text, or inside a value


def _entity(m: re.Match) -> str:
    if m.group(2):
        return _NAMED[m.group(2).lower()]
    num = m.group(1)
    try:
        code = int(num[1:], 16) if num[0] in "xX" else int(num)
        return chr(code) if code < 0x110000 else ""
    except (ValueError, OverflowError):
        return ""


def _bad_url(value: str) -> bool:
    """A value that starts with a script scheme once entities are decoded and blanks dropped."""
    head = _ENTITY.sub(_entity, value[:256])
    head = "".join(ch for ch in head if ord(ch) > 0x20).lower()
    return head.startswith(_BAD_SCHEMES)


def _bad_attr(name: str, value: str | None) -> bool:
    name = name.lower()
    if name.startswith("on") and name[2:] in _EVENTS:
        return True
    if name in _BLACK_ATTRS:
        return True
    return name in _URL_ATTRS and value is not None and _bad_url(value)


def _bad_tag(name: str) -> bool:
    name = name.lower()
    return name in _BLACK_TAGS or name.startswith(("svg", "xsl"))


def _attributes(text: str, i: int) -> tuple[bool, int]:
    """Read the attributes of a tag from `i` up to its `>`; (whether one is dangerous, index after the tag)."""
    n = len(text)
    while i < n:
        c = text[i]
        if c == ">":
            return False, i + 1
        if c.isspace() or c in "/\"'`=":
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in "/>=":
            j += 1
        name = text[i:j]
        k = j
        while k < n and text[k].isspace():
            k += 1
        value = None
        if k < n and text[k] == "=":
            k += 1
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] in "\"'`":
                end = text.find(text[k], k + 1)
                end = n if end < 0 else end
                value, k = text[k + 1:end], end + 1
            else:
                end = k
                while end < n and not text[end].isspace() and text[end] != ">":
                    end += 1
                value, k = text[k:end], end
            j = k
        if _bad_attr(name, value):
            return True, j
        i = max(j, i + 1)
    return False, n


def _xss_from(text: str, start: str) -> bool:
    """Read `text` as HTML from the place `start` names; True at the first dangerous construct."""
    n, i = len(text), 0
    if start:                       # inside an attribute value: the value runs to its end, then the tag goes on
        if start == "unquoted":
            end = 0
            while end < n and not text[end].isspace() and text[end] != ">":
                end += 1
        else:
            end = text.find(start, 0)
            if end < 0:
                return False
        bad, i = _attributes(text, end + (0 if start == "unquoted" else 1))
        if bad:
            return True
    while i < n:
        lt = text.find("<", i)
        if lt < 0 or lt + 1 >= n:
            return False
        nxt = text[lt + 1]
        if nxt == "!":
            body = text[lt + 2:lt + 2 + 64].lower()
            if body.startswith("doctype"):
                return True
            if body.startswith("--"):
                end = text.find("-->", lt + 4)
                comment = text[lt + 4:n if end < 0 else end].lower()
                if "[if" in comment or "import" in comment or "xml" in comment or "`" in comment:
                    return True
                i = n if end < 0 else end + 3
                continue
            i = lt + 2
            continue
        if nxt == "?":
            return True                                # <?xml …?>, <?import…>
        j = lt + 1 + (nxt == "/")
        k = j
        while k < n and (text[k].isalnum() or text[k] in ":-_"):
            k += 1
        if k == j:
            i = lt + 1                                  # "< " or "<3": text, not a tag
            continue
        if _bad_tag(text[j:k]):
            return True
        bad, i = _attributes(text, k)
        if bad:
            return True
    return False


def is_xss(text: str) -> bool:
    """Whether `text` reads as XSS in HTML text or breaking out of an attribute value."""
    if not text:
        return False
    return any(_xss_from(text, start) for start in _XSS_STARTS)
