"""Micro-benchmark: ns per evaluation of typical compiled hub filters on a realistic nginx event.

    .venv/bin/python bench/expr_micro.py [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synsec.engine.errors import Where  # noqa: E402
from synsec.engine.expr import ExprContext, compile_predicate  # noqa: E402
from synsec.engine.model import Event, Line  # noqa: E402

FILTERS = {
    "log_type ==": "evt.Meta.log_type == 'http_access-log'",
    "http-sensitive-files": 'evt.Meta.log_type in ["http_access-log", "http_error-log"] and '
                            'any(File("sensitive_data.txt"), { evt.Parsed.request endsWith #})',
    "http-bad-user-agent": 'evt.Meta.log_type in ["http_access-log", "http_error-log"] && '
                           'RegexpInFile(evt.Parsed.http_user_agent, "bad_user_agents.regex.txt")',
    "http-sqli-probing": "evt.Meta.log_type in ['http_access-log', 'http_error-log'] && "
                         "any(File('sqli_probe_patterns.txt'), {Upper(evt.Parsed.http_args) contains Upper(#)})",
    "http-backdoors": 'evt.Meta.log_type in ["http_access-log", "http_error-log"] and '
                      'any(File("backdoors.txt"), { evt.Parsed.file_name == #})',
    "ssh-bf (miss)": "evt.Meta.log_type == 'ssh_failed-auth'",
    "generic any loop": "any(['a', 'b', 'c'], {evt.Meta.http_verb == #}) && evt.Meta.http_status in ['200']",
}

DATA_DIRS = ["/work/main/.cache/crowdsec/root/usr/share/crowdsec/data", "/work/.cs-unpacked/usr/share/crowdsec/data"]


def load_ctx(data_dir: str | None) -> ExprContext:
    ctx = ExprContext()
    for d in ([data_dir] if data_dir else DATA_DIRS):
        p = Path(d)
        if p.is_dir():
            for f in p.iterdir():
                lines = [ln for ln in f.read_text(errors="replace").splitlines() if ln and not ln.startswith("#")]
                ctx.files[f.name] = ctx.regexps[f.name] = lines
            break
    for name in ("sensitive_data.txt", "bad_user_agents.regex.txt", "sqli_probe_patterns.txt", "backdoors.txt"):
        ctx.files.setdefault(name, [".env", ".git"])
        ctx.regexps.setdefault(name, ["(?i)sqlmap", "nikto"])
    return ctx


def sample_event() -> Event:
    evt = Event(Line('192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /wp-content/plugins/x/index.php?id=1 '
                     'HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"',
                     Labels={"type": "nginx"}))
    evt.Meta.update(log_type="http_access-log", http_path="/wp-content/plugins/x/index.php?id=1",
                    http_status="200", http_verb="GET", source_ip="192.0.2.7", service="http")
    evt.Parsed.update(request="/wp-content/plugins/x/index.php?id=1", http_args="id=1&page=2",
                      http_user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
                      file_name="index.php", verb="GET", program="nginx")
    return evt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("-n", type=int, default=200_000)
    args = ap.parse_args()
    ctx, evt = load_ctx(args.data), sample_event()
    print(f"{'filter':24} {'result':>6} {'Compiled()':>12} {'.fn()':>10}")
    for name, text in FILTERS.items():
        c = compile_predicate(text, where=Where("bench", 0, name), ctx=ctx)
        fn = c.fn
        via_obj = min(timeit.repeat(lambda: c(evt), number=args.n, repeat=3)) / args.n * 1e9
        via_fn = min(timeit.repeat(lambda: fn(evt), number=args.n, repeat=3)) / args.n * 1e9
        print(f"{name:24} {str(c(evt)):>6} {via_obj:>9.0f} ns {via_fn:>7.0f} ns")


if __name__ == "__main__":
    main()
