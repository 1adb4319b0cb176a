"""Deterministic generator of benchmark logs (nginx access log and/or sshd auth log) with ground truth.

    python bench/gen_log.py --lines 100000 --kind nginx|sshd|mixed --seed 1 -o FILE [--truth FILE.json]
                            [--shape sessions|benign-heavy]

Output files
  --kind nginx   FILE is an nginx access log, default `combined` format:
                 $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
                 "$http_referer" "$http_user_agent"      (replay with crowdsec -type nginx)
  --kind sshd    FILE is an RFC3164 syslog auth log (sshd, CRON, systemd-logind lines):
                 `Mar  1 08:00:01 web1 sshd[1234]: Failed password for root from 203.0.113.5 port 52211 ssh2`
                 (replay with crowdsec -type syslog)
  --kind mixed   two files, because CrowdSec needs a different -type for each:
                 FILE itself gets the nginx access log (90 % of --lines) and FILE with its suffix
                 replaced by `.auth.log` (e.g. bench.log -> bench.auth.log) gets the sshd log (10 %);
                 both cover the same time span. The paths are recorded in the ground truth.

Traffic model
  * Benign: many clients (192.0.2.0/24 and 100.64.0.0/10) browsing in sessions: a page, then its static
    assets (css/js/images/fonts, some 304), think time, next page; rare 404 on a page, rare failed
    login followed by success. Clients are drawn from a large pool and a line is given to a random
    active session, so each client is naturally paced (~0.25 lines/s, ~0.05 pages/s): far below every
    CrowdSec threshold. `--shape benign-heavy` (nginx): a stream of visitors instead, each from an
    address of its own, reading 1-6 pages at human pace (think time 3-120 s) with 0-2 assets a page:
    about half the lines are benign non-static GETs, poured into http-crawl-non_statics, whose buckets
    mostly underflow alone (the busy-site shape of issue 15). sshd: public-key and password logins with
    session open/close, rare password typos, CRON sessions. Benign paths and user agents avoid CrowdSec's sensitive-file, traversal,
    sqli/xss, backdoor and bad-user-agent lists (tests/unit/test_gen_log.py checks this when the
    Debian data files are unpacked).
  * Attacks: `--attack-ratio` (default 2 %) of the lines, from 203.0.113.0/24, 198.51.100.0/24 and
    2001:db8::/32; one IP per attack episode. nginx behaviours: http_404_probe, http_sensitive_files,
    http_bad_user_agent, http_path_traversal, http_sqli_probe, http_xss_probe, wordpress_bf,
    wordpress_user_enum, http_crawl, http_401_bf. sshd behaviours: ssh_bf_fast, ssh_bf_slow,
    ssh_user_enum. Behaviours are dealt round-robin (shuffled) so small files still cover all.
  * Near misses (`--near-misses N`, default 0; nginx only): N benign clients that come close to a threshold
    without crossing it, alternately a slow prober (a 404 on a probe path every 14-25 s: http-probing
    leaks one every 10 s) and a well-paced crawler (bingbot from 207.46.13.0/24: robots.txt, then a page
    every 2-6 s). They expect no alert; in the ground truth under `near_misses`. Poured out of event-time
    order, such a bucket overflows (docs/kafka.md: event-time order).
  * Time advances monotonically with exponential gaps: ~100 lines/s for nginx (--rate), ~10 lines/s
    for sshd; default start 2026-03-01 08:00:00 UTC (syslog lines carry no year: CrowdSec assumes
    the current one). Lines with the same second keep generation order.

Ground truth (--truth): JSON with, per attacker episode, ip, log (nginx|sshd), behaviour, lines,
first_seen/last_seen, and expected_alerts {scenario: count} computed by the generator's own model of
the hub scenarios (leaky bucket = golang rate limiter with burst=capacity; distinct; blackhole; bucket
reset when fully leaked). Compare detections as the set of (ip, scenario) pairs; counts and
secondary scenarios (e.g. a sensitive-file scan also being a 404 probe) are best effort.

Speed: ~1M lines in well under 20 s (single thread, pure Python).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as _dt
import heapq
import json
import random
import sys
from pathlib import Path

GENERATOR_VERSION = 1
DEFAULT_START = "2026-03-01T08:00:00+00:00"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ATTACKER_RANGES = ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]
BENIGN_RANGES = ["192.0.2.0/24", "100.64.0.0/10"]
HOSTNAME = "web1"
SHAPES = ("sessions", "benign-heavy")

# ----------------------------------------------------------------------------- benign vocabulary
BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.97",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.43 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
]
SITE = "https://www.example.com"
WORDS = ("garden", "kitchen", "travel", "winter", "summer", "coffee", "bicycle", "camera", "laptop",
         "recipes", "music", "hiking", "books", "running", "design", "chairs", "lamps", "tables",
         "shoes", "jackets", "gifts", "tea", "pasta", "bread", "photography", "camping", "yoga")
CATEGORIES = ("shoes", "jackets", "lamps", "chairs", "tables", "books", "cameras", "bags")
STATIC_ASSETS = (
    ["/static/css/main.3f2a9c.css", "/static/css/vendor.81bc0e.css", "/static/js/app.9d41e7.js",
     "/static/js/vendor.5c7a12.js", "/static/js/runtime.0b9f33.js",
     "/static/fonts/inter-var.woff2", "/static/fonts/icons.woff2", "/static/img/logo.svg",
     "/static/img/hero.webp", "/static/img/sprite.png", "/favicon.ico"]
    + [f"/media/products/{i:04d}-{s}.jpg" for i in range(1, 400) for s in ("thumb", "large")]
    + [f"/media/blog/{w}-{i}.jpg" for w in WORDS for i in range(1, 6)]
)
BENIGN_SSH_USERS = ("deploy", "alice", "bob", "carol", "ops", "backup", "git", "jenkins")

# ----------------------------------------------------------------------------- attack vocabulary
# entries below are taken from CrowdSec's data files (sensitive_data.txt, path_traversal.txt,
# sqli_probe_patterns.txt, xss_probe_patterns.txt, bad_user_agents.regex.txt)
SENSITIVE_PATHS = ["/.env", "/.git/config", "/.git/HEAD", "/backup.sql", "/db.sql.gz", "/dump.sql",
                   "/.htpasswd", "/.htaccess", "/.aws/config", "/config/aws.yml",
                   "/secrets.json", "/.bash_history", "/.env.local", "/.env.production.local",
                   "/site.sql.zip", "/.svn/entries", "/.docker/config.json", "/.vscode/sftp.json",
                   "/composer.lock", "/debug.log", "/www.sql.tar", "/.ssh"]
TRAVERSAL_REQS = ["/static/../../../../etc/passwd", "/download?file=../../../../etc/passwd",
                  "/index.php?page=..%2f..%2f..%2fetc%2fpasswd", "/%2e%2e%2f%2e%2e%2fetc%2fhosts",
                  "/view?file=/etc/shadow", "/index.php?page=php://filter/resource=index.php",
                  "/cgi/%252e%252e%252f%252e%252e%252fetc%252fpasswd", "/load?f=/proc/self/environ",
                  "/file?name=..\\..\\windows/win.ini", "/img?src=file:///etc/passwd",
                  "/api/export?path=/var/log/auth.log", "/show?tpl=C:/boot.ini"]
SQLI_ARGS = ["id=1%20union%20select%20null,null--", "id=1%20union%20all%20select%201,2,3--",
             "id=1%20AND%20sleep%285%29", "q=1'%20or%20benchmark%2810000000,md5%281%29%29--",
             "cat=2%20and%20substring%28@@version,1,1%29=5",
             "id=-1%2cnull%2cnull%2cnull", "user=admin'%20and%20pg_sleep%285%29--",
             "id=1;select%20load_file%28'/etc/passwd'%29", "id=1%20and%20hex%28user%28%29%29",
             "id=(select%20distinct%28table_name%29%20from%20information_schema.tables)",
             "page=1%20and%20upper%28version%28%29%29", "sort=name%7c%7cchr%2865%29",
             "x=1%20and%201=(selectchar%2871%29)", "v=%40%40version", "o=1;exec%20..xp_cmdshell"]
XSS_ARGS = ["q=%3Cscript%3Ealert(1)%3C/script%3E", "q=%3Cimg%20src=x%20onerror=alert(1)%3E",
            "search=%3Csvg/onload=alert(document.domain)%3E", "name=javascript%3Aalert(1)",
            "msg=%3Cbody%20onload=prompt(1)%3E", "q=%3Ciframe%20src=javascript:alert(1)%3E",
            "r=%3Cinput%20autofocus%20onfocus=alert(1)%3E", "s=alert%28document.cookie%29",
            "q=%3Cdiv%20onmouseover=alert(1)%3E", "c=%3Cobject%20data=javascript:alert(1)%3E",
            "t=%3Ctable%20background=javascript:alert(1)%3E", "p=%3Cmeta%20http-equiv=refresh%3E",
            "q=%3Cembed%20src=x%3E", "q=%3Cstyle%3E@import'x'%3C/style%3E"]
BAD_UAS = ["Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)",
           "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
           "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
           "Mozilla/5.0 zgrab/0.x",
           "WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)",
           "gobuster/3.5"]
PROBE_WORDS = ("admin", "administrator", "phpmyadmin", "pma", "myadmin", "manager", "console",
               "setup", "install", "old", "new", "test", "temp", "dev", "staging", "api-docs",
               "swagger", "actuator", "solr", "jenkins", "server-status", "cpanel", "webmail",
               "shell", "upload", "uploads", "config", "login", "portal", "owa", "cgi-bin",
               "xmlrpc", "vendor", "includes", "adminer", "dbadmin", "sql", "mysql", "boaform")
PROBE_SUFFIXES = ("", ".php", ".asp", ".aspx", ".jsp", ".cgi", "/index.php", "/login.php",
                  "/admin.php", ".action", "/setup.php")
SSH_ENUM_USERS = ("admin", "test", "user", "oracle", "postgres", "ubuntu", "guest", "ftpuser",
                  "pi", "support", "git", "mysql", "nagios", "tomcat", "hadoop", "minecraft",
                  "steam", "teamspeak", "student", "demo", "web", "www", "ansible", "vagrant",
                  "docker", "elastic", "kafka", "redis", "zabbix", "jenkins", "odoo", "sonar")
BINGBOT_UA = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
CRAWL_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/118.0.0.0 Safari/537.36")

STATIC_EXTS = {".JPG", ".CSS", ".JS", ".JPEG", ".PNG", ".SVG", ".MAP", ".ICO", ".OTF", ".GIF",
               ".MP3", ".MP4", ".WOFF", ".WOFF2", ".TTF", ".EOT", ".WEBP", ".WAV", ".GZ",
               ".BROTLI", ".BVR", ".TS", ".BMP"}

# ----------------------------------------------------------------------------- scenario model
# name -> (capacity, leakspeed s, blackhole s); filters live in _http_matches / _ssh_matches
HTTP_MODEL = {
    "crowdsecurity/http-probing": (10, 10.0, 300.0),
    "crowdsecurity/http-sensitive-files": (4, 5.0, 300.0),
    "crowdsecurity/http-bad-user-agent": (1, 60.0, 120.0),
    "crowdsecurity/http-path-traversal-probing": (3, 10.0, 120.0),
    "crowdsecurity/http-sqli-probbing-detection": (10, 1.0, 300.0),
    "crowdsecurity/http-xss-probbing": (5, 1.0, 300.0),
    "crowdsecurity/http-bf-wordpress_bf": (5, 10.0, 300.0),
    "crowdsecurity/http-wordpress_user-enum": (5, 10.0, 300.0),
    "crowdsecurity/http-crawl-non_statics": (40, 0.5, 60.0),
    "LePresidente/http-generic-401-bf": (5, 10.0, 60.0),
}
SSH_MODEL = {
    "crowdsecurity/ssh-bf": (5, 10.0, 60.0),
    "crowdsecurity/ssh-bf_user-enum": (5, 10.0, 60.0),
    "crowdsecurity/ssh-slow-bf": (10, 60.0, 60.0),
    "crowdsecurity/ssh-slow-bf_user-enum": (10, 60.0, 60.0),
}


def split_request(req: str) -> tuple[str, str]:
    path, _, args = req.partition("?")
    return path, args


def file_name_ext(path: str) -> tuple[str, str]:
    base = path.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    ext = base[dot:] if dot > 0 else ""
    return base, ext


def is_static(path: str) -> bool:
    return file_name_ext(path)[1].upper() in STATIC_EXTS


def leaky_overflows(events, capacity: int, leak: float, blackhole: float) -> int:
    """Count overflows of one bucket partition. events: sorted [(t, distinct_key_or_None)]."""
    n = 0
    tokens = None
    last = None
    seen: set = set()
    bh_until = -1.0
    for t, key in events:
        if t < bh_until:
            continue
        if tokens is not None and (t - last) >= capacity * leak:  # fully leaked: bucket gone
            tokens, seen = None, set()
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        if tokens is None:
            tokens, last = float(capacity), t
        tokens = min(float(capacity), tokens + (t - last) / leak)
        last = t
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            n += 1
            tokens, seen, bh_until = None, set(), t + blackhole
    return n


def _http_matches(rec: dict) -> dict:
    """scenario -> distinct key for one attack request (only scenarios whose filter matches)."""
    path, args = split_request(rec["req"])
    fname, _ = file_name_ext(path)
    static = is_static(path)
    out = {}
    st, verb, tags = rec["status"], rec["verb"], rec["tags"]
    if st in (404, 403, 400) and not static:
        out["crowdsecurity/http-probing"] = rec["req"]
    if "sensitive" in tags:
        out["crowdsecurity/http-sensitive-files"] = path
    if "bad_ua" in tags:
        out["crowdsecurity/http-bad-user-agent"] = None
    if "traversal" in tags:
        out["crowdsecurity/http-path-traversal-probing"] = rec["req"]
    if "sqli" in tags:
        out["crowdsecurity/http-sqli-probbing-detection"] = args
    if "xss" in tags:
        out["crowdsecurity/http-xss-probbing"] = args
    if fname == "wp-login.php" and verb == "POST" and st == 200:
        out["crowdsecurity/http-bf-wordpress_bf"] = None
    if "AUTHOR=" in args.upper():
        out["crowdsecurity/http-wordpress_user-enum"] = args
    if not static and verb in ("GET", "HEAD"):
        out["crowdsecurity/http-crawl-non_statics"] = fname
    if verb == "POST" and st == 401:
        out["LePresidente/http-generic-401-bf"] = None
    return out


def expected_alerts(log: str, recs: list[dict]) -> dict:
    model = HTTP_MODEL if log == "nginx" else SSH_MODEL
    per: dict[str, list] = {k: [] for k in model}
    for r in recs:
        if log == "nginx":
            m = _http_matches(r)
        else:
            if not r.get("failed"):
                continue
            m = {"crowdsecurity/ssh-bf": None, "crowdsecurity/ssh-slow-bf": None,
                 "crowdsecurity/ssh-bf_user-enum": r["user"],
                 "crowdsecurity/ssh-slow-bf_user-enum": r["user"]}
        for sc, key in m.items():
            per[sc].append((int(r["t"]), key))  # both log formats have 1 s resolution
    out = {}
    for sc, evs in per.items():
        if evs:
            c, leak, bh = model[sc]
            n = leaky_overflows(evs, c, leak, bh)
            if n:
                out[sc] = n
    return out


# ----------------------------------------------------------------------------- helpers
class TimeFmt:
    """Caches the formatted timestamp per integer second."""

    def __init__(self, start: _dt.datetime):
        self.epoch = int(start.timestamp())
        self._last_s = None
        self._nginx = self._syslog = ""

    def _fill(self, s: int) -> None:
        d = _dt.datetime.fromtimestamp(self.epoch + s, _dt.timezone.utc)
        mon = MONTHS[d.month - 1]
        self._nginx = f"{d.day:02d}/{mon}/{d.year}:{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000"
        self._syslog = f"{mon} {d.day:2d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"
        self._last_s = s

    def nginx(self, t: float) -> str:
        s = int(t)
        if s != self._last_s:
            self._fill(s)
        return self._nginx

    def syslog(self, t: float) -> str:
        s = int(t)
        if s != self._last_s:
            self._fill(s)
        return self._syslog

    def iso(self, t: float) -> str:
        d = _dt.datetime.fromtimestamp(self.epoch + int(t), _dt.timezone.utc)
        return d.strftime("%Y-%m-%dT%H:%M:%SZ")


class AttackerIPs:
    def __init__(self, rng: random.Random):
        v4 = [f"203.0.113.{i}" for i in range(1, 255)] + [f"198.51.100.{i}" for i in range(1, 255)]
        rng.shuffle(v4)
        self.v4 = v4
        self.rng = rng
        self.v6n = 0

    def next(self) -> str:
        if self.v4 and self.rng.random() >= 0.15:
            return self.v4.pop()
        self.v6n += 1
        return f"2001:db8:{self.v6n // 65536:x}:{self.v6n % 65536:x}::{self.rng.randrange(1, 65535):x}"


def benign_ip(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return f"192.0.2.{rng.randrange(1, 255)}"
    n = rng.randrange(1, (1 << 22) - 1)  # 100.64.0.0/10
    return f"100.{64 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"


# ----------------------------------------------------------------------------- benign nginx
def _page(rng: random.Random) -> str:
    """A benign non-static page (site pages, search, small API calls)."""
    r = rng.random()
    if r < 0.12:
        page = "/"
    elif r < 0.40:
        page = f"/products/{rng.randrange(1, 400)}-{rng.choice(WORDS)}"
    elif r < 0.55:
        page = f"/category/{rng.choice(CATEGORIES)}"
        if rng.random() < 0.4:
            page += f"?page={rng.randrange(2, 9)}"
    elif r < 0.72:
        page = f"/blog/{rng.choice(WORDS)}-{rng.choice(WORDS)}-{rng.randrange(1, 60)}"
    elif r < 0.80:
        page = f"/search?q={rng.choice(WORDS)}+{rng.choice(WORDS)}"
    elif r < 0.86:
        page = rng.choice(("/about", "/contact", "/faq", "/shipping", "/returns", "/privacy",
                           "/terms", "/careers", "/sitemap.xml", "/robots.txt", "/feed.xml"))
    else:
        page = rng.choice(("/api/v1/cart", "/api/v1/recommendations?limit=8",
                           "/api/v1/stock?sku=" + str(rng.randrange(10000, 99999)),
                           "/api/v1/session"))
    return page


def _page_visit(rng: random.Random, referer: str) -> list[tuple]:
    page = _page(rng)
    status = 404 if rng.random() < 0.01 else 200
    out = []
    verb = "GET"
    if page == "/api/v1/cart" and rng.random() < 0.3:
        verb = "POST"
    size = rng.randrange(180, 900) if status == 404 else rng.randrange(2500, 48000)
    if page.startswith("/api/"):
        size = rng.randrange(60, 3000) if status == 200 else size
    out.append((verb, page, status, size, referer))
    if status == 200 and not page.startswith("/api/") and page not in ("/robots.txt",
                                                                         "/sitemap.xml",
                                                                         "/feed.xml"):
        ref = SITE + page
        for a in rng.sample(STATIC_ASSETS[:11], rng.randrange(0, 6)):
            out.append(("GET", a, 304 if rng.random() < 0.5 else 200, 0, ref))
        for _ in range(rng.randrange(0, 5)):
            a = rng.choice(STATIC_ASSETS)
            out.append(("GET", a, 200, rng.randrange(3000, 250000), ref))
    if page == "/" and rng.random() < 0.03:  # occasional login (sometimes one typo)
        if rng.random() < 0.3:
            out.append(("POST", "/account/login", 401, 512, SITE + "/account/login"))
        out.append(("POST", "/account/login", 302, 0, SITE + "/account/login"))
    return out


def benign_nginx(rng: random.Random, n: int, rate: float, n_sessions: int):
    """Yield (t, ip, rest) tuples, t monotonic."""
    sessions = []
    for _ in range(n_sessions):
        sessions.append([benign_ip(rng), rng.choice(BROWSER_UAS), [], "-"])
    t = 0.0
    expo = rng.expovariate
    for _ in range(n):
        t += expo(rate)
        s = sessions[rng.randrange(n_sessions)]
        q = s[2]
        if not q:
            if s[3] != "-" and rng.random() < 0.15:  # session ends, a new client arrives
                s[0], s[1], s[3] = benign_ip(rng), rng.choice(BROWSER_UAS), "-"
            q.extend(reversed(_page_visit(rng, s[3])))
            s[3] = SITE + q[-1][1]
        verb, path, status, size, ref = q.pop()
        yield t, s[0], f'"{verb} {path} HTTP/1.1" {status} {size} "{ref}" "{s[1]}"'


def benign_visitors(rng: random.Random, n: int, rate: float):
    """Yield (t, ip, rest), t monotonic: the benign-heavy shape. Visitors arrive one after another, each
    from an address of its own, and read a few pages at human pace (think time 3-120 s, median ~25 s);
    each page brings 0-2 static assets within a second. About half the lines are non-static GETs, so
    most benign lines are poured into the crawl scenario, and most of those buckets underflow alone."""
    pending: list = []           # heap of (t, seq, ip, rest)
    seq = 0
    t = 0.0
    emitted = 0
    arrivals = rate / 7.0        # a visitor makes ~7 lines (3.5 pages, ~1 asset each)
    expo = rng.expovariate
    while emitted < n:
        t += expo(arrivals)
        while pending and pending[0][0] <= t and emitted < n:
            pt, _, ip, rest = heapq.heappop(pending)
            emitted += 1
            yield pt, ip, rest
        ip, ua, ref, tv = benign_ip(rng), rng.choice(BROWSER_UAS), "-", t
        for _ in range(rng.randrange(1, 7)):
            page = _page(rng)
            status = 404 if rng.random() < 0.01 else 200
            verb = "POST" if page == "/api/v1/cart" and rng.random() < 0.3 else "GET"
            size = rng.randrange(180, 900) if status == 404 else rng.randrange(2500, 48000)
            reqs = [(tv, f'"{verb} {page} HTTP/1.1" {status} {size} "{ref}" "{ua}"')]
            ref = SITE + page
            if status == 200 and not page.startswith("/api/"):
                ta = tv
                for a in rng.sample(STATIC_ASSETS, rng.randrange(0, 3)):
                    ta += rng.uniform(0.05, 0.5)
                    reqs.append((ta, f'"GET {a} HTTP/1.1" {304 if rng.random() < 0.5 else 200} '
                                     f'{rng.randrange(0, 250000)} "{ref}" "{ua}"'))
            for rt, rest in reqs:
                seq += 1
                heapq.heappush(pending, (rt, seq, ip, rest))
            tv += min(120.0, 3.0 + rng.lognormvariate(3.0, 0.9))
    # (the remaining pending tail is dropped: exactly n lines are emitted)


# ----------------------------------------------------------------------------- benign sshd
def benign_sshd(rng: random.Random, n: int, rate: float, pool: list[str]):
    """Yield (t, None, rest) with rest = 'prog[pid]: message'."""
    pending: list = []  # heap of (t, seq, rest)
    seq = 0
    t = 0.0
    emitted = 0
    pid = 20000
    session_no = 100
    expo = rng.expovariate
    while emitted < n:
        # start a new login roughly every 5 lines of output
        t += expo(rate / 5.0)
        while pending and pending[0][0] <= t and emitted < n:
            pt, _, rest = heapq.heappop(pending)
            emitted += 1
            yield pt, None, rest
        if emitted >= n:
            break
        pid += rng.randrange(1, 40)
        r = rng.random()
        if r < 0.12:  # cron session
            cp = pid
            evs = [(t, f"CRON[{cp}]: pam_unix(cron:session): session opened for user root(uid=0) "
                       f"by (uid=0)"),
                   (t + rng.uniform(0.1, 2), f"CRON[{cp}]: pam_unix(cron:session): session closed "
                                             f"for user root")]
        else:
            ip = rng.choice(pool)
            user = rng.choice(BENIGN_SSH_USERS)
            port = rng.randrange(32768, 61000)
            session_no += 1
            tt = t
            evs = []
            method = "publickey"
            if rng.random() < 0.25:
                method = "password"
                if rng.random() < 0.08:  # a typo first
                    evs.append((tt, f"sshd[{pid}]: Failed password for {user} from {ip} port "
                                    f"{port} ssh2"))
                    tt += rng.uniform(2, 6)
            if method == "publickey":
                fp = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                             for _ in range(8))
                evs.append((tt, f"sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} "
                                f"ssh2: ED25519 SHA256:{fp}Qm3kXbT0c9rU2lHq7a1ZpVw5nJ4eYdF8gR6sC"))
            else:
                evs.append((tt, f"sshd[{pid}]: Accepted password for {user} from {ip} port {port} "
                                f"ssh2"))
            evs.append((tt, f"sshd[{pid}]: pam_unix(sshd:session): session opened for user "
                            f"{user}(uid={1000 + BENIGN_SSH_USERS.index(user)}) by (uid=0)"))
            evs.append((tt + 0.01, f"systemd-logind[412]: New session {session_no} of user {user}."))
            end = tt + rng.uniform(5, 900)
            evs.append((end, f"sshd[{pid}]: Received disconnect from {ip} port {port}:11: "
                             f"disconnected by user"))
            evs.append((end, f"sshd[{pid}]: Disconnected from user {user} {ip} port {port}"))
            evs.append((end, f"sshd[{pid}]: pam_unix(sshd:session): session closed for user {user}"))
            evs.append((end + 0.01, f"systemd-logind[412]: Session {session_no} logged out. "
                                    f"Waiting for processes to exit."))
        for et, rest in evs:
            seq += 1
            heapq.heappush(pending, (et, seq, rest))
    # (the remaining pending tail is dropped: exactly n lines are emitted)


# ----------------------------------------------------------------------------- attacks
def _jitter(rng, lo, hi):
    return rng.uniform(lo, hi)


def atk_http(rng: random.Random, behaviour: str) -> list[dict]:
    """One episode: list of request dicts with relative time t (seconds)."""
    recs = []
    t = 0.0
    ua = rng.choice(BROWSER_UAS)

    def add(verb, req, status, size, tags=(), ua_=None, ref="-", dt=(0.2, 2.0)):
        nonlocal t
        recs.append({"t": t, "verb": verb, "req": req, "status": status, "size": size,
                     "ref": ref, "ua": ua_ or ua, "tags": set(tags)})
        t += _jitter(rng, *dt)

    if behaviour == "http_404_probe":
        n = rng.randrange(15, 40)
        paths: dict[str, None] = {}  # ordered set: never iterate a str set (hash seed varies)
        while len(paths) < n:
            paths["/" + rng.choice(PROBE_WORDS) + rng.choice(PROBE_SUFFIXES)] = None
        for p in paths:
            add("GET", p, 404, rng.randrange(150, 600), dt=(0.2, 2.0))
    elif behaviour == "http_sensitive_files":
        for p in rng.sample(SENSITIVE_PATHS, rng.randrange(6, 12)):
            add("GET", p, rng.choice((404, 403)), rng.randrange(150, 600), ("sensitive",),
                dt=(0.3, 1.2))
    elif behaviour == "http_bad_user_agent":
        bua = rng.choice(BAD_UAS)
        for _ in range(rng.randrange(2, 7)):
            add("GET", rng.choice(("/", "/about", "/products/12-coffee", "/category/lamps")), 200,
                rng.randrange(2500, 30000), ("bad_ua",), ua_=bua, dt=(1.0, 15.0))
    elif behaviour == "http_path_traversal":
        for r in rng.sample(TRAVERSAL_REQS, rng.randrange(5, 10)):
            add("GET", r, rng.choice((400, 404)), rng.randrange(150, 400), ("traversal",),
                dt=(0.3, 2.0))
    elif behaviour == "http_sqli_probe":
        base = rng.choice(("/products", "/category/lamps", "/search", "/item.php"))
        for a in rng.sample(SQLI_ARGS, rng.randrange(13, 16)):
            add("GET", f"{base}?{a}", rng.choice((200, 500, 400)), rng.randrange(200, 5000),
                ("sqli",), dt=(0.03, 0.15))
    elif behaviour == "http_xss_probe":
        base = rng.choice(("/search", "/contact", "/comment", "/blog/tea-garden-3"))
        for a in rng.sample(XSS_ARGS, rng.randrange(8, 14)):
            add("GET", f"{base}?{a}", rng.choice((200, 400)), rng.randrange(200, 5000), ("xss",),
                dt=(0.05, 0.25))
    elif behaviour == "wordpress_bf":
        add("GET", "/wp-login.php", 200, 4512, dt=(0.5, 2.0))
        for _ in range(rng.randrange(10, 30)):
            add("POST", "/wp-login.php", 200, 4731, ref=SITE + "/wp-login.php", dt=(0.5, 3.0))
    elif behaviour == "wordpress_user_enum":
        for i in range(1, rng.randrange(8, 16)):
            add("GET", f"/?author={i}", rng.choice((301, 200, 404)), rng.randrange(0, 900),
                dt=(0.3, 1.5))
    elif behaviour == "http_crawl":
        pages: dict[str, None] = {}
        n = rng.randrange(60, 200)
        while len(pages) < n:
            pages[f"/products/{rng.randrange(1, 4000)}-{rng.choice(WORDS)}"] = None
        for p in pages:
            add("GET", p, 200, rng.randrange(2500, 48000), ua_=CRAWL_UA, dt=(0.05, 0.2))
    elif behaviour == "http_401_bf":
        for _ in range(rng.randrange(10, 25)):
            add("POST", "/api/v1/login", 401, 61, dt=(0.3, 2.0))
    else:
        raise ValueError(behaviour)
    return recs


def atk_ssh(rng: random.Random, behaviour: str, ip: str, pid0: int) -> list[dict]:
    recs = []
    t = 0.0
    pid = pid0
    port = rng.randrange(30000, 65000)

    def new_conn():
        nonlocal pid, port
        pid += rng.randrange(1, 30)
        port = rng.randrange(30000, 65000)

    def add(msg, failed, user, dt):
        nonlocal t
        recs.append({"t": t, "rest": f"sshd[{pid}]: {msg}", "failed": failed, "user": user})
        t += dt

    if behaviour in ("ssh_bf_fast", "ssh_bf_slow"):
        user = rng.choice(("root", "root", "admin", "ubuntu"))
        n = rng.randrange(8, 40) if behaviour == "ssh_bf_fast" else rng.randrange(16, 30)
        gap = (0.5, 3.0) if behaviour == "ssh_bf_fast" else (8.0, 20.0)
        new_conn()
        for i in range(n):
            add(f"Failed password for {user} from {ip} port {port} ssh2", True, user,
                _jitter(rng, *gap))
            if i % 3 == 2:  # MaxAuthTries per connection reached
                add(f"Connection closed by authenticating user {user} {ip} port {port} [preauth]",
                    True, user, _jitter(rng, 0.1, 1.0))
                new_conn()
    elif behaviour == "ssh_user_enum":
        for user in rng.sample(SSH_ENUM_USERS, rng.randrange(8, 25)):
            new_conn()
            add(f"Invalid user {user} from {ip} port {port}", True, user, _jitter(rng, 0.05, 0.4))
            add(f"Failed password for invalid user {user} from {ip} port {port} ssh2", True, user,
                _jitter(rng, 0.1, 0.6))
            if rng.random() < 0.5:
                add(f"Connection closed by invalid user {user} {ip} port {port} [preauth]", True,
                    user, 0.0)
            t += _jitter(rng, 0.5, 3.0)
    else:
        raise ValueError(behaviour)
    return recs


def near_miss(rng: random.Random, behaviour: str) -> list[dict]:
    """One near-miss episode (no alert expected): request dicts with relative time t, as atk_http's."""
    recs, t = [], 0.0
    if behaviour == "slow_probe":
        ua = rng.choice(BROWSER_UAS)
        for _ in range(rng.randrange(20, 30)):
            req = "/" + rng.choice(PROBE_WORDS) + rng.choice(PROBE_SUFFIXES)
            recs.append({"t": t, "verb": "GET", "req": req, "status": 404, "size": rng.randrange(150, 600),
                         "ref": "-", "ua": ua, "tags": set()})
            t += rng.uniform(14.0, 25.0)
    elif behaviour == "polite_crawl":
        pages = ["/robots.txt"] + [f"/products/{rng.randrange(1, 4000)}-{rng.choice(WORDS)}"
                                   for _ in range(rng.randrange(60, 120))]
        for p in pages:
            recs.append({"t": t, "verb": "GET", "req": p, "status": 200, "size": rng.randrange(300, 48000),
                         "ref": "-", "ua": BINGBOT_UA, "tags": set()})
            t += rng.uniform(2.0, 6.0)
    else:
        raise ValueError(behaviour)
    return recs


def make_near_misses(rng, n: int, span: float, ips: AttackerIPs, tf: TimeFmt):
    """n near-miss episodes spread over the span: (records [(t, ip, rest)], truth entries)."""
    out, truth = [], []
    for i in range(n):
        beh = ("slow_probe", "polite_crawl")[i % 2]
        ip = ips.next() if beh == "slow_probe" else f"207.46.13.{rng.randrange(2, 254)}"
        recs = near_miss(rng, beh)
        t0 = rng.uniform(0.0, max(0.0, span - recs[-1]["t"]))
        for r in recs:
            out.append((r["t"] + t0, ip, f'"{r["verb"]} {r["req"]} HTTP/1.1" {r["status"]} {r["size"]} '
                                         f'"{r["ref"]}" "{r["ua"]}"'))
        truth.append({"ip": ip, "behaviour": beh, "lines": len(recs), "first_seen": tf.iso(recs[0]["t"] + t0),
                      "last_seen": tf.iso(recs[-1]["t"] + t0), "expected_alerts": {}})
    out.sort(key=lambda x: x[0])
    return out, truth


HTTP_BEHAVIOURS = ["http_404_probe", "http_sensitive_files", "http_bad_user_agent",
                   "http_path_traversal", "http_sqli_probe", "http_xss_probe", "wordpress_bf",
                   "wordpress_user_enum", "http_crawl", "http_401_bf"]
SSH_BEHAVIOURS = ["ssh_bf_fast", "ssh_bf_slow", "ssh_user_enum"]


def make_attacks(rng, log, budget, span, ips: AttackerIPs, tf: TimeFmt):
    """Return (records [(t, prefix, rest)], truth entries)."""
    behaviours = HTTP_BEHAVIOURS if log == "nginx" else SSH_BEHAVIOURS
    out, truth = [], []
    used = 0
    order: list[str] = []
    pid = 40000
    while used < budget:
        if not order:
            order = behaviours[:]
            rng.shuffle(order)
        beh = order.pop()
        ip = ips.next()
        if log == "nginx":
            recs = atk_http(rng, beh)
        else:
            recs = atk_ssh(rng, beh, ip, pid)
            pid += 500
        dur = recs[-1]["t"]
        t0 = rng.uniform(0.0, max(0.0, span - dur))
        for r in recs:
            r["t"] += t0
        if log == "nginx":
            for r in recs:
                out.append((r["t"], ip, f'"{r["verb"]} {r["req"]} HTTP/1.1" {r["status"]} '
                                        f'{r["size"]} "{r["ref"]}" "{r["ua"]}"'))
        else:
            for r in recs:
                out.append((r["t"], None, r["rest"]))
        exp = expected_alerts(log, recs)
        truth.append({"ip": ip, "log": log, "behaviour": beh, "lines": len(recs),
                      "first_seen": tf.iso(recs[0]["t"]), "last_seen": tf.iso(recs[-1]["t"]),
                      "expected_alerts": exp, "expected_scenarios": sorted(exp)})
        used += len(recs)
    out.sort(key=lambda x: x[0])
    return out, truth


# ----------------------------------------------------------------------------- writer
def write_log(path: Path, log: str, benign_iter, attacks, tf: TimeFmt) -> int:
    merged = heapq.merge(benign_iter, attacks, key=lambda x: x[0])
    n = 0
    buf = []
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        if log == "nginx":
            fmt = tf.nginx
            for t, ip, rest in merged:
                buf.append(f"{ip} - - [{fmt(t)}] {rest}\n")
                if len(buf) >= 8192:
                    f.write("".join(buf))
                    n += len(buf)
                    buf.clear()
        else:
            fmt = tf.syslog
            for t, _, rest in merged:
                buf.append(f"{fmt(t)} {HOSTNAME} {rest}\n")
                if len(buf) >= 8192:
                    f.write("".join(buf))
                    n += len(buf)
                    buf.clear()
        f.write("".join(buf))
        n += len(buf)
    return n


def generate_one(rng, log, n_lines, rate, span, attack_ratio, path: Path, tf: TimeFmt,
                 ips: AttackerIPs, near_misses: int = 0, shape: str = "sessions"):
    budget = max(1, round(n_lines * attack_ratio)) if attack_ratio > 0 else 0
    if budget:
        attacks, truth = make_attacks(rng, log, budget, span, ips, tf)
    else:
        attacks, truth = [], []
    misses: list[dict] = []
    if near_misses and log == "nginx":
        near, misses = make_near_misses(rng, near_misses, span, ips, tf)
        attacks = list(heapq.merge(attacks, near, key=lambda x: x[0]))
    n_benign = max(0, n_lines - len(attacks))
    if len(attacks) > n_lines:
        raise SystemExit(f"--lines {n_lines} too small for one attack episode per kind")
    if log == "nginx" and shape == "benign-heavy":
        benign = benign_visitors(rng, n_benign, n_benign / span if span else rate)
    elif log == "nginx":
        sessions = max(50, int(rate * 4))  # ~0.25 lines/s per active session
        benign = benign_nginx(rng, n_benign, n_benign / span if span else rate, sessions)
    else:
        pool = [benign_ip(rng) for _ in range(max(200, n_lines // 50))]
        benign = benign_sshd(rng, n_benign, n_benign / span if span else rate, pool)
    written = write_log(path, log, benign, attacks, tf)
    return written, truth, misses


def generate(lines: int, kind: str, seed: int, out: Path, *, rate: float | None = None,
             attack_ratio: float = 0.02, start: str = DEFAULT_START, near_misses: int = 0,
             shape: str = "sessions") -> dict:
    """Generate the log file(s); return the ground-truth dict. `shape`: the benign nginx traffic
    (SHAPES)."""
    if shape not in SHAPES:
        raise ValueError(f"shape {shape!r}: one of {', '.join(SHAPES)}")
    rng = random.Random(seed)
    start_dt = _dt.datetime.fromisoformat(start)
    if start_dt.tzinfo is None:
        start_dt = start_dt.replace(tzinfo=_dt.timezone.utc)
    tf = TimeFmt(start_dt)
    ips = AttackerIPs(rng)
    out = Path(out)
    files, counts, attackers, misses = {}, {}, [], []
    if kind == "nginx":
        r = rate or 100.0
        plan = [("nginx", lines, out)]
        span = lines / r
    elif kind == "sshd":
        r = rate or 10.0
        plan = [("sshd", lines, out)]
        span = lines / r
    elif kind == "mixed":
        r = rate or 100.0
        n_ssh = lines // 10
        plan = [("nginx", lines - n_ssh, out), ("sshd", n_ssh, out.with_suffix(".auth.log"))]
        span = (lines - n_ssh) / r
    else:
        raise ValueError(kind)
    for log, n, path in plan:
        written, truth, near = generate_one(rng, log, n, r, span, attack_ratio, path, tf, ips, near_misses,
                                            shape)
        files[log] = str(path)
        counts[log] = written
        attackers.extend(truth)
        misses.extend(near)
    per_sc: dict[str, int] = {}
    for a in attackers:
        for sc, c in a["expected_alerts"].items():
            per_sc[sc] = per_sc.get(sc, 0) + c
    return {
        "generator": "bench/gen_log.py", "version": GENERATOR_VERSION, "seed": seed,
        "kind": kind, **({"shape": shape} if shape != "sessions" else {}), "files": files, "lines": counts,
        "attack_ratio": attack_ratio,
        "crowdsec_type": {"nginx": "nginx", "sshd": "syslog"},
        "start": tf.iso(0), "end": tf.iso(span),
        "attacker_ranges": ATTACKER_RANGES, "benign_ranges": BENIGN_RANGES,
        "attacker_ips": sorted({a["ip"] for a in attackers}),
        "attackers": attackers,
        "expected_alerts_per_scenario": dict(sorted(per_sc.items())),
        **({"near_misses": misses} if misses else {}),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Deterministic nginx/sshd benchmark log generator")
    ap.add_argument("--lines", type=int, default=100000)
    ap.add_argument("--kind", choices=("nginx", "sshd", "mixed"), default="nginx")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--truth", help="write the ground truth JSON here")
    ap.add_argument("--rate", type=float, help="log lines per second of log time "
                                               "(default 100 nginx/mixed, 10 sshd)")
    ap.add_argument("--attack-ratio", type=float, default=0.02)
    ap.add_argument("--start", default=DEFAULT_START, help="ISO start time (UTC if naive)")
    ap.add_argument("--near-misses", type=int, default=0,
                    help="benign slow probers and well-paced crawlers (nginx), alternately")
    ap.add_argument("--shape", choices=SHAPES, default="sessions",
                    help="benign nginx traffic: sessions (a few hundred clients browsing pages and their "
                         "assets) or benign-heavy (a stream of visitors, each from its own address, "
                         "reading a few pages at human pace)")
    args = ap.parse_args(argv)
    truth = generate(args.lines, args.kind, args.seed, Path(args.output), rate=args.rate,
                     attack_ratio=args.attack_ratio, start=args.start, near_misses=args.near_misses,
                     shape=args.shape)
    if args.truth:
        Path(args.truth).write_text(json.dumps(truth, indent=1) + "\n")
    n_att = sum(a["lines"] for a in truth["attackers"])
    print(f"wrote {truth['files']} lines={truth['lines']} attackers={len(truth['attackers'])} "
          f"attack_lines={n_att}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
