"""XML helpers (CrowdSec xml.go, beevik/etree paths) on xml.etree: tags match by local name, so Windows
event XML with its default namespace works with `/Event/System[1]/Computer`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .registry import helper

__all__ = ["etree_path"]

_last_doc: list = [(None, None)]
_paths: dict[str, str] = {}
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def etree_path(path: str) -> str:
    """Translate an etree path into ElementTree syntax relative to a wrapper around the document root."""
    cached = _paths.get(path)
    if cached is not None:
        return cached
    body = path.lstrip("/") if path.startswith("/") and not path.startswith("//") else path
    prefix = ".//" if body.startswith("//") else "./"
    steps, depth, cur = [], 0, ""
    for c in body.lstrip("/"):
        if c == "/" and depth == 0:
            steps.append(cur)
            cur = ""
            continue
        depth += (c == "[") - (c == "]")
        cur += c
    steps.append(cur)
    out = []
    for step in steps:
        name, bracket, rest = step.partition("[")
        if name and name not in (".", "..", "*") and not name.startswith("{") and ":" not in name:
            name = "{*}" + name
        elif ":" in name:
            name = "{*}" + name.split(":", 1)[1]
        out.append(name + bracket + rest)
    result = _paths[path] = prefix + "/".join(s if s else "" for s in out)
    return result


def _document(xml_text: str):
    last = _last_doc[0]             # one tuple, swapped atomically: safe across threads
    if last[0] is xml_text:
        return last[1]
    try:
        root = ET.fromstring(xml_text)
        doc = ET.Element("document")
        doc.append(root)
    except (ET.ParseError, ValueError):
        doc = _lenient_document(xml_text)
    _last_doc[0] = (xml_text, doc)
    return doc


def _lenient_document(xml_text: str):
    """The document as etree (Go's encoding/xml) reads it: text around the elements (Windows Event Viewer's
    copied "- <Event…>- <System>…") and several top-level elements are allowed; None when it still does not parse."""
    body = _XML_DECL.sub("", xml_text, count=1)
    try:
        return ET.fromstring(f"<document>{body}</document>")
    except (ET.ParseError, ValueError):
        return None


def _find(xml_text, path):
    doc = _document(xml_text)
    if doc is None:
        return None
    try:
        return doc.find(etree_path(path))
    except (SyntaxError, KeyError, ValueError):
        return None


@helper("XMLGetNodeValue", 2, returns="str")
def xml_get_node_value(xml_text, path):
    """Text of the first element at path ("" when absent or the XML does not parse)."""
    elem = _find(xml_text, path)
    return "" if elem is None else (elem.text or "")


@helper("XMLGetAttributeValue", 3, returns="str")
def xml_get_attribute_value(xml_text, path, attribute):
    elem = _find(xml_text, path)
    if elem is None:
        return ""
    for key, value in elem.attrib.items():
        if key == attribute or key.rpartition("}")[2] == attribute:
            return value
    return ""
