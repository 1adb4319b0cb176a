"""Micro-benchmark: microseconds per Grok.match on realistic lines, matched and unmatched.

Usage: python bench/grok_micro.py [--number N]
Also times the same regex through the high-level `re2` module (the path we chose not to take) for comparison.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import re2  # noqa: E402

from synsec.content.patterns import load_patterns  # noqa: E402

NGINX_HUB = (  # hub parsers/s01-parse/crowdsecurity/nginx-logs.yaml, access-log pattern
    '(%{IPORHOST:target_fqdn} )?%{IPORHOST:remote_addr} - (%{NGUSER:remote_user})? \\[%{HTTPDATE:time_local}\\] '
    '"%{WORD:verb} %{DATA:request} HTTP/%{NUMBER:http_version}" %{NUMBER:status} %{NUMBER:body_bytes_sent} '
    '"%{NOTDQUOTE:http_referer}" "%{NOTDQUOTE:http_user_agent}"( %{NUMBER:request_length} %{NUMBER:request_time} '
    '\\[%{DATA:proxy_upstream_name}\\] \\[%{DATA:proxy_alternative_upstream_name}\\])?'
)
SYSLOG = "Mar  3 07:12:45 web-01 sshd[20245]: Failed password for root from 203.0.113.7 port 51672 ssh2"
NGINX = ('198.51.100.23 - - [04/Mar/2024:10:15:32 +0100] "GET /wp-login.php?redirect_to=%2F HTTP/1.1" 404 153 '
         '"https://example.org/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"')
SSHD = "Failed password for root from 203.0.113.7 port 51672 ssh2"
UNICODE_NGINX = NGINX.replace("Mozilla/5.0", "Mozilla/5.0 ünïcødé 漢字")

CASES = [  # (label, compile arg, is_name, line)
    ("SYSLOGLINE matched", "SYSLOGLINE", True, SYSLOG),
    ("SYSLOGLINE unmatched", "SYSLOGLINE", True, "-- this is not a syslog line at all, just text --"),
    ("nginx access matched", NGINX_HUB, False, NGINX),
    ("nginx access matched (non-ASCII)", NGINX_HUB, False, UNICODE_NGINX),
    ("nginx access unmatched, has literal", NGINX_HUB, False, 'x "GET / HTTP/1.1" y'),
    ("nginx access unmatched, prefiltered", NGINX_HUB, False, SYSLOG),
    ("SSHD_FAIL matched", "SSHD_FAIL", True, SSHD),
    ("SSHD_FAIL unmatched, prefiltered", "SSHD_FAIL", True, "Accepted password for root from 1.2.3.4 port 2 ssh2"),
    ("SSHD_FAIL unmatched, has literal", "SSHD_FAIL", True, "Failed to start session for pid 42"),
]


def per_call_us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--number", type=int, default=20000)
    args = ap.parse_args()
    lib = load_patterns()
    print(f"{'case':40s} {'Grok.match':>11s} {'re2 module':>11s}  prefilter")
    for label, arg, is_name, line in CASES:
        grok = lib.compile_named(arg) if is_name else lib.compile(arg)
        high = re2.compile(grok.regex)

        def via_module(line=line):
            m = high.search(line)
            return m.groupdict() if m else None

        ours = per_call_us(lambda: grok.match(line), args.number)
        theirs = per_call_us(via_module, args.number)
        print(f"{label:40s} {ours:9.2f}µs {theirs:9.2f}µs  {grok.prefilter!r}")


if __name__ == "__main__":
    main()
