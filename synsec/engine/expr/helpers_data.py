"""Data helpers: data files, JSON (buger/jsonparser paths), key=value, URLs, base64 — CrowdSec semantics."""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import parse_qs, quote, unquote, urlsplit

import re2

from .fastpaths import alternation, data_file, regexp_file
from .helpers_str import GO_SPACE
from .regex import Regex, RegexError, compile_regex
from .registry import helper

__all__ = ["json_extract", "json_path", "go_json"]


def _file_special(call, cg):
    lines = data_file(cg, call)
    return None if lines is None else (cg.bind(lines, "file"), "list")


@helper("File", 1, returns="list", needs_ctx=True, specialise=_file_special)
def file_(ctx, name):
    """The lines of a string data file ([] when unknown, as CrowdSec logs and returns empty)."""
    return ctx.files.get(name, [])


def _regexp_in_file_special(call, cg):
    from .codegen import CompileError
    patterns = regexp_file(cg, call.args[1])
    if patterns is None:
        return None
    for p in patterns:
        try:
            Regex(p)
        except RegexError as err:
            raise CompileError(f"invalid regexp {p!r} in data file {cg.fold(call.args[1])!r}: {err}",
                               call.args[1].pos) from None
    subject, stype = cg.gen(call.args[0])
    text = subject if stype == "str" else f"_rt_as_str({subject})"
    if not patterns:
        return "False", "bool"
    rx = alternation(patterns)
    if rx is None:
        return f"_rt_any_regex({cg.bind(tuple(Regex(p) for p in patterns), 'rxs')}, {text})", "bool"
    return f"{cg.bind(rx, 're')}.search({text})", "bool"


@helper("RegexpInFile", 2, returns="bool", needs_ctx=True, specialise=_regexp_in_file_special)
def regexp_in_file(ctx, data, name):
    return any(compile_regex(p).search(data) for p in ctx.regexps.get(name, ()))


# --- JSON -------------------------------------------------------------------------------------------
class _RawNum(str):
    """A JSON number kept as its source text (jsonparser returns raw bytes)."""


def _loads_raw(blob: str):
    return json.loads(blob, parse_int=_RawNum, parse_float=_RawNum)


_last_blob: list = [(None, None)]


def _parsed(blob: str):
    """json.loads with a one-entry memo: hub parsers call JsonExtract many times on the same line."""
    last = _last_blob[0]            # one tuple, swapped atomically: safe across threads
    if last[0] is blob:
        return last[1]
    value = _loads_raw(blob)
    _last_blob[0] = (blob, value)
    return value


def json_path(target: str) -> list[str]:
    """CrowdSec's path split: `a.b[1].c` -> ['a', 'b', '[1]', 'c']."""
    if not target.startswith("["):
        target = target.replace("[", ".[")
    return target.split(".")


def _walk(doc, keys: list[str]):
    cur = doc
    for key in keys:
        if key.startswith("[") and key.endswith("]") and isinstance(cur, list):
            try:
                cur = cur[int(key[1:-1])]
            except (ValueError, IndexError):
                raise KeyError(key) from None
        elif isinstance(cur, dict) and key in cur:
            cur = cur[key]
        else:
            raise KeyError(key)
    return cur


def _raw(value) -> str:
    if isinstance(value, _RawNum):
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)[1:-1]
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _plain(value, number=lambda raw: json.loads(str.__str__(raw))):
    if isinstance(value, _RawNum):
        return number(value)
    if isinstance(value, list):
        return [_plain(v, number) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, number) for k, v in value.items()}
    return value


def _go_number(raw) -> float:
    return float(str.__str__(raw))


def go_json(blob: str):
    """`blob` decoded as Go's json.Unmarshal into an interface{} does: numbers become floats. ValueError when
    it is not JSON."""
    return _plain(_loads_raw(blob), _go_number)


def _extract(blob, keys: list[str]):
    try:
        return _walk(_parsed(blob), keys)
    except (ValueError, KeyError, TypeError):
        raise KeyError from None


@helper("JsonExtract", 2, returns="str")
def json_extract(blob, target):
    """The raw text at `target` ("" when absent or invalid JSON)."""
    try:
        return _raw(_extract(blob, json_path(target)))
    except KeyError:
        return ""


@helper("JsonExtractLib", 1, None, returns="str")
def json_extract_lib(blob, *keys):
    try:
        return _raw(_extract(blob, list(keys)))
    except KeyError:
        return ""


@helper("JsonExtractUnescape", 1, None, returns="str")
def json_extract_unescape(blob, *keys):
    """The unescaped string at the path given as separate keys ("" when absent or not a string)."""
    try:
        value = _extract(blob, list(keys))
    except KeyError:
        return ""
    if isinstance(value, _RawNum) or not isinstance(value, str):
        return "" if not isinstance(value, _RawNum) else str.__str__(value)
    return value


@helper("JsonExtractSlice", 2, returns="list")
def json_extract_slice(blob, target):
    try:
        value = _extract(blob, json_path(target))
    except KeyError:
        return None
    return _plain(value, _go_number) if isinstance(value, list) else None


@helper("JsonExtractObject", 2, returns="dict")
def json_extract_object(blob, target):
    try:
        value = _extract(blob, json_path(target))
    except KeyError:
        return None
    return _plain(value, _go_number) if isinstance(value, dict) else None


@helper("UnmarshalJSON", 3)
def unmarshal_json(blob, target, key):
    """Decode blob into target[key] (numbers become floats, as Go's interface{} decoding does).

    The compiled call checks the target first (runtime.writable): evt.Unmarshaled or a map in it."""
    target[key] = go_json(blob)
    return None


@helper("ToJsonString", 1, returns="str")
def to_json_string(value):
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return ""


# --- key=value, URLs, base64 ------------------------------------------------------------------------
_KV_PATTERN = re2._re2.RE2(rb'([^=\s]+)=(?:"([^"\\]*(?:\\.[^"\\]*)*)"|([^=\s]+)|\s*)', re2.Options())
_KV_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED
_HEX = frozenset("0123456789abcdefABCDEF")


@helper("ParseKV", 3)
def parse_kv(blob, target, prefix):
    """`k=v k2="quoted v"` pairs into target[prefix] (a map of strings); error when there is none.

    CrowdSec's pattern, run by RE2 (Go's regexp) one match after the other from where the last one ended:
    linear in the length of blob (Python's backtracking findall was quadratic on a long run without `=`)."""
    data = blob.encode("utf-8", "surrogatepass")
    pairs, pos, end = {}, 0, len(data)
    while pos < end:
        spans = _KV_PATTERN.Match(_KV_UNANCHORED, data, pos, end)
        if spans[0][0] < 0:
            break
        (_, pos), key, quoted, plain = spans
        value = quoted if quoted[1] > quoted[0] else plain
        pairs[data[key[0]:key[1]].decode("utf-8", "surrogatepass")] = \
            data[value[0]:value[1]].decode("utf-8", "surrogatepass") if value[0] >= 0 else ""
    if not pairs:
        raise ValueError("invalid input format")
    _kv_target(target, prefix, "ParseKV").update(pairs)
    return None


_KEY_START = re2._re2.RE2(rb"([a-zA-Z_][a-zA-Z0-9_.-]*)=", re2.Options())


def _kv_target(target, prefix, name: str) -> dict:
    out = target.setdefault(prefix, {})
    if not isinstance(out, dict):
        raise TypeError(f"{name}: target is not a map[string]string")
    return out


@helper("ParseKVLax", 3)
def parse_kv_lax(blob, target, prefix):
    """CrowdSec's lax key=value parser into target[prefix]: a value runs to the next `key=` outside double quotes
    (so unquoted values may hold spaces), trimmed; a quoted value loses its quotes and `\\"`, `\\\\` escapes.

    target[prefix] is created first, even when the line has no pair (then an error, as CrowdSec). Linear:
    keys are found by RE2 one after the other and the quote state is carried from one key to the next."""
    out = _kv_target(target, prefix, "ParseKVLax")
    data = blob.encode("utf-8", "surrogatepass")
    starts: list[tuple[int, int, int]] = []        # (start of key, end of key, start of value)
    pos, end, scanned, quoted = 0, len(data), 0, False
    while pos < end:
        spans = _KEY_START.Match(_KV_UNANCHORED, data, pos, end)
        if spans[0][0] < 0:
            break
        (start, pos), (k0, k1) = spans[0], spans[1]
        quoted = _quote_state(data, scanned, start, quoted)
        scanned = start
        if not quoted:
            starts.append((k0, k1, pos))
    if not starts:
        raise ValueError("invalid input format")
    for i, (k0, k1, v0) in enumerate(starts):
        v1 = starts[i + 1][0] if i + 1 < len(starts) else end
        raw = data[v0:v1].decode("utf-8", "surrogatepass").strip(GO_SPACE)
        out[data[k0:k1].decode("utf-8", "surrogatepass")] = _lax_value(raw)
    return None


def _quote_state(data: bytes, frm: int, to: int, quoted: bool) -> bool:
    """The in-quotes state after data[frm:to], starting from `quoted`: an unescaped `"` toggles it."""
    i = data.find(b'"', frm, to)
    while i >= 0:
        slashes = 0
        while i - slashes - 1 >= 0 and data[i - slashes - 1] == 0x5C:
            slashes += 1
        if slashes % 2 == 0:
            quoted = not quoted
        i = data.find(b'"', i + 1, to)
    return quoted


def _lax_value(s: str) -> str:
    if not s.startswith('"'):
        return s
    if len(s) >= 2 and s.endswith('"'):
        return s[1:-1].replace("\\\\", "\\").replace('\\"', '"')
    return s[1:]


_QUERY_ESCAPE = re.compile(rb"\+|%[0-9a-fA-F]{2}")


def _query_unescape_lax(s: str) -> str:
    """CrowdSec's WAF unescape: `+` is a space, `%XX` a byte, any other `%` stays as it is."""
    data = s.encode("utf-8", "surrogateescape")
    out = _QUERY_ESCAPE.sub(lambda m: b" " if m.group() == b"+" else bytes([int(m.group()[1:], 16)]), data)
    return out.decode("utf-8", "surrogateescape")


@helper("ParseQuery", 1, returns="dict", pure=True)
def parse_query(query):
    """A query string as a map of lists (CrowdSec's WAF ParseQuery): split on `&` only (`;` stays in values),
    empty parts skipped, each key and value unescaped leniently."""
    values: dict[str, list[str]] = {}
    for part in query.split("&"):
        if part == "":
            continue
        key, _, value = part.partition("=")
        values.setdefault(_query_unescape_lax(key), []).append(_query_unescape_lax(value))
    return values


@helper("ExtractQueryParam", 2, returns="list", pure=True)
def extract_query_param(uri, param):
    """The values of `param` in the query string of a raw URI (after its first `?`); [] when absent."""
    _, mark, query = uri.partition("?")
    if not mark or not query:
        return []
    return parse_query(query).get(param, [])


@helper("ParseUri", 1, returns="dict")
def parse_uri(uri):
    try:
        query = urlsplit(uri).query
    except ValueError:
        return {}
    return parse_qs(query, keep_blank_values=True)


@helper("QueryUnescape", 1, returns="str", pure=True)
def query_unescape(s):
    try:
        return _go_unescape(s.replace("+", " "))
    except ValueError:
        return s


@helper("PathUnescape", 1, returns="str", pure=True)
def path_unescape(s):
    try:
        return _go_unescape(s)
    except ValueError:
        return s


def _go_unescape(s: str) -> str:
    """Go's url unescape: every `%` must start two hex digits, otherwise it is an error."""
    i = s.find("%")
    while i >= 0:
        digits = s[i + 1:i + 3]
        if len(digits) < 2 or not _HEX.issuperset(digits):
            raise ValueError("invalid URL escape")
        i = s.find("%", i + 3)
    return unquote(s, errors="surrogateescape")


@helper("QueryEscape", 1, returns="str", pure=True)
def query_escape(s):
    return quote(s, safe="-_.~").replace("%20", "+")


@helper("PathEscape", 1, returns="str", pure=True)
def path_escape(s):
    return quote(s, safe="-_.~$&+:=@")


@helper("B64Decode", 1, returns="str", pure=True)
def b64decode(s):
    try:
        return base64.b64decode(s, validate=True).decode("utf-8", "surrogateescape")
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"illegal base64 data: {err}") from None


@helper("KeyExists", 2, returns="bool")
def key_exists(key, mapping):
    return mapping is not None and key in mapping
