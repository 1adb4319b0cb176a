"""LibInjectionIsSQLI / LibInjectionIsXSS (synsec/engine/expr/libinjection.py): well-known injection payloads are
caught, ordinary text (names with apostrophes, prose with "or"/"select", plain HTML) is not."""

from __future__ import annotations

import pytest

from synsec.engine.errors import Where
from synsec.engine.expr import compile_expr
from synsec.engine.expr.libinjection import is_sqli, is_xss, sqli_fingerprints
from synsec.engine.model import Event, Line

W = Where("scenarios/x.yaml", 1, "filter")
SQLI = [
    "' OR 1=1 --", "1' OR '1'='1", "admin'--", "admin' #", "\" OR \"\"=\"", "-1 OR 1=1", "1) OR (1=1",
    "') OR ('a'='a", "1 UNION SELECT username, password FROM users", "' UNION ALL SELECT NULL,NULL--",
    "1/**/UNION/**/SELECT/**/1", "1 /*!50000UNION*/ SELECT 1", "1; DROP TABLE users", "'; exec xp_cmdshell('dir')--",
    "1 AND SLEEP(5)", "1' AND SLEEP(5)#", "1 or benchmark(10000000,MD5(1))#", "1' ORDER BY 3--",
    "' or 1 in (select @@version)--", "1' and extractvalue(1,concat(0x7e,version()))--+", "SELECT * FROM users",
    "x' AND 1=(SELECT COUNT(*) FROM tabname); --", "1' waitfor delay '0:0:5'--",
]
NOT_SQLI = [
    "", "hello world", "O'Reilly", "it's a test", "don't stop believing", "Rock 'n' roll", "john.doe@example.com",
    "select a gift from our shop", "cats or dogs", "order by price", "Union Station", "2024-01-01", "3 + 4 = 7",
    "/index.php?id=5", "x=1&y=2", "100%", "--help", "#hashtag", "we're open from 9 to 5", "I said 'hello' to them",
    "Bob's \"burgers\"", "email@domain.com or phone", "C:\\Program Files\\x", "café",
]
XSS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><script>alert(1)</script>",
    "' onmouseover='alert(1)", "\" onfocus=\"alert(1)\" autofocus=\"", "x onclick=alert(1)", "`onmouseover=alert(1)",
    "<a href=\"javascript:alert(1)\">x</a>", "<a href=\"jav&#x09;ascript:alert(1)\">", "<svg/onload=alert(1)>",
    "<iframe src=//evil>", "<body onload=alert(1)>", "<details open ontoggle=alert(1)>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">", "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
    "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
    "<math><mi xlink:href=\"javascript:alert(1)\">", "<form action=javascript:alert(1)><input type=submit>",
    "<!DOCTYPE html>", "<?xml version=\"1.0\"?>",
]
NOT_XSS = [
    "", "hello world", "<b>bold</b>", "a < b and c > d", "Tom & Jerry", "<p class=\"intro\">Hi</p>", "he said \"hi\"",
    "it's fine", "<a href=\"https://example.com\">link</a>", "status online=true", "one onion", "5 > 3", "<3 love",
    "<br/>", "if (a<b) return", "<img src=\"cat.png\" alt=\"a cat\">", "data: 42", "style guide", "javascript is fun",
]


@pytest.mark.parametrize("text", SQLI)
def test_sqli_payloads_are_caught(text):
    assert is_sqli(text), sqli_fingerprints(text)


@pytest.mark.parametrize("text", NOT_SQLI)
def test_ordinary_text_is_not_sqli(text):
    assert not is_sqli(text), sqli_fingerprints(text)


@pytest.mark.parametrize("text", XSS)
def test_xss_payloads_are_caught(text):
    assert is_xss(text)


@pytest.mark.parametrize("text", NOT_XSS)
def test_ordinary_text_is_not_xss(text):
    assert not is_xss(text)


def test_fingerprints_fold_expressions_and_read_after_quotes():
    """`1=1` folds to a number, unary signs go; the quote readings exist only for a text holding that quote."""
    assert sqli_fingerprints("-1 OR 1=1") == ["1&1"]
    assert sqli_fingerprints("' OR 'a'='a") == ["snsn", "s&s"]     # as is: the quoted "' OR '"
    assert sqli_fingerprints("plain") == ["n"]


def test_helpers_in_expressions():
    """The expr helpers answer on event fields and are false on what is not text."""
    evt = Event(Line("x"))
    evt.Parsed["args"] = "id=1 UNION SELECT password FROM users"
    evt.Parsed["q"] = "<svg onload=alert(1)>"
    assert compile_expr("LibInjectionIsSQLI(evt.Parsed.args)", where=W)(evt) is True
    assert compile_expr("LibInjectionIsXSS(evt.Parsed.q)", where=W)(evt) is True
    assert compile_expr("LibInjectionIsSQLI(evt.Parsed.q) || LibInjectionIsXSS(evt.Parsed.args)", where=W)(evt) is False
    assert compile_expr("LibInjectionIsSQLI(1)", where=W)(evt) is False
