"""The benign clients of bench/ootb_coverage.py's log: browsers (static-heavy page loads, a few 404s, an office behind
one NAT address), search-engine crawlers at their normal pace, uptime monitors, feed readers and link previews, an
admin who mistypes passwords, mobile-app and partner API clients, and the same host's ordinary sshd, mail and FTP
logins. Written, like the attacks (bench/ootb_attacks.py), without reading synsec's content.
"""

from __future__ import annotations

from ootb_attacks import ASSETS, BROWSERS, PAGES, SITE, SPAN, Traffic

__all__ = ["BENIGN"]

STALE = ["/2019/03/old-post/", "/2020/07/archived-notes/", "/wp-content/uploads/2021/01/old-banner.jpg",
         "/category/uncategorized/", "/tag/old-tag/"]


def _session(tr: Traffic, ip: str, t: float, pages: int) -> float:
    """One visitor: `pages` page views, all assets on the first, few (cached) after; sometimes a dead link."""
    ua = tr.rng.choice(BROWSERS)
    ref = tr.rng.choice(["-", "https://www.google.com/", "https://duckduckgo.com/", "https://news.ycombinator.com/"])
    page = tr.rng.choice(PAGES)
    t = tr.page_load(t, ip, ua, page, tr.rng.randrange(6, len(ASSETS) + 1), ref)
    for _ in range(pages - 1):
        t += tr.rng.uniform(8.0, 180.0)
        prev, page = page, tr.rng.choice(PAGES)
        if tr.rng.random() < 0.06:
            tr.access(t, ip, "GET", tr.rng.choice(STALE), 404, ua, f"https://{SITE}{prev}")
            continue
        t = tr.page_load(t, ip, ua, page, tr.rng.randrange(0, 4), f"https://{SITE}{prev}")
    return t


def browsers(tr: Traffic, users: int) -> None:
    for _ in range(users):
        ip = tr.ip()
        tr.benign[ip] = "browser"
        _session(tr, ip, tr.rng.uniform(0, SPAN - 600), tr.rng.randrange(1, 9))
    ip = tr.ip()                               # an office: many people behind one NAT address for an hour
    tr.benign[ip] = "office NAT"
    for _ in range(max(5, users // 10)):
        _session(tr, ip, tr.rng.uniform(1800, 5400), tr.rng.randrange(2, 10))
    ip = tr.ip()                               # a visitor who mistypes three URLs in a minute
    tr.benign[ip] = "URL typos"
    t = tr.rng.uniform(600, SPAN - 600)
    for path in ["/abuot/", "/contcat/", "/2026/11/nginx-tunning/"]:
        tr.access(t, ip, "GET", path, 404, BROWSERS[2])
        t += tr.rng.uniform(5, 20)
    tr.page_load(t, ip, BROWSERS[2], "/2026/11/nginx-tuning/", 8)


CRAWLERS = [  # (user agent, IPs, seconds between requests)
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     ["66.249.66.1", "66.249.66.12", "66.249.79.33"], (20, 60)),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) "
     "Chrome/116.0.1938.76 Safari/537.36", ["40.77.167.12", "157.55.39.201"], (40, 90)),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", ["5.255.253.160"], (60, 120)),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 "
     "Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)", ["17.241.219.10"], (90, 240)),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", ["20.191.45.212"], (120, 300)),
    ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", ["220.181.108.89"],
     (90, 200)),
]


def crawlers(tr: Traffic, users: int) -> None:
    posts = [f"/2026/{m:02d}/post-{n}/" for m in range(1, 12) for n in range(20)]
    for ua, ips, (lo, hi) in CRAWLERS:
        for ip in ips:
            tr.benign[ip] = ua.split("compatible; ")[-1].split(";")[0][:24]
            tr.ip(ip)
            t = tr.rng.uniform(0, hi)
            tr.access(t, ip, "GET", "/robots.txt", 200, ua)
            while t < SPAN:
                t += tr.rng.uniform(lo, hi)
                r = tr.rng.random()
                if r < 0.05:
                    tr.access(t, ip, "GET", tr.rng.choice(STALE), 404, ua)
                elif r < 0.08:
                    tr.access(t, ip, "GET", "/blog", 301, ua)
                elif r < 0.12:
                    tr.access(t, ip, "GET", tr.rng.choice(["/sitemap.xml", "/wp-sitemap-posts-post-1.xml"]), 200, ua)
                else:
                    tr.access(t, ip, "GET", tr.rng.choice(posts + PAGES), 200, ua)


def monitors(tr: Traffic, users: int) -> None:
    for who, ua, ips, (t, step, method) in [
            ("UptimeRobot", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
             [f"216.144.248.{n}" for n in (16, 17, 18, 19)], (10.0, 300, "HEAD")),
            ("Pingdom", "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
             ["178.255.152.2", "185.180.12.65", "23.22.2.46"], (25.0, 60, "GET"))]:
        for ip in ips:                         # an uptime service: one check of / a period, from one of its probes
            tr.benign[tr.ip(ip)] = who
        while t < SPAN:
            tr.access(t, tr.rng.choice(ips), method, "/", 200, ua)
            t += step
    ip = tr.ip()                               # the owner's Prometheus blackbox exporter on another VPS
    tr.benign[ip] = "blackbox exporter"
    t = 3.0
    while t < SPAN:
        tr.access(t, ip, "GET", "/healthz", 200, "Blackbox Exporter/0.25.0", size=3)
        t += 30
    ip = tr.ip()
    tr.benign[ip] = "Feedly"
    t = 100.0
    while t < SPAN:
        tr.access(t, ip, "GET", "/feed/", tr.rng.choice([200, 304]),
                  "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 14 subscribers; )")
        t += 1200
    for ua, n in [("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 2),
                  ("Twitterbot/1.0", 1), ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 1)]:
        ip = tr.ip()
        tr.benign[ip] = ua.split("/")[0].split(" ")[0]
        t = tr.rng.uniform(600, SPAN - 600)
        tr.access(t, ip, "GET", "/2026/11/nginx-tuning/", 200, ua)
        if n > 1:
            tr.access(t + 0.5, ip, "GET", "/wp-content/uploads/2026/11/nginx-diagram.png", 200, ua)


def admin(tr: Traffic, users: int) -> None:
    """The site owner: curl checks, a WordPress login with two typos, the dashboard's heartbeat, /admin/ behind
    auth_basic (the browser's first request has no credentials; one typo), the app's login with two typos."""
    ip = tr.ip()
    tr.benign[ip] = "admin (web)"
    ua = BROWSERS[2]
    t = tr.rng.uniform(600, 1800)
    for _ in range(2):
        tr.access(t, ip, "HEAD", "/", 200, "curl/7.88.1")
        t += 20
    tr.access(t, ip, "GET", "/wp-login.php", 200, ua)
    for status in (200, 200, 302):
        t += tr.rng.uniform(6, 15)
        tr.access(t, ip, "POST", "/wp-login.php", status, ua, ref=f"https://{SITE}/wp-login.php")
    t = tr.page_load(t + 1, ip, ua, "/wp-admin/", 5)
    for _ in range(30):                        # WordPress Heartbeat API while the editor is open
        t += tr.rng.uniform(55, 65)
        tr.access(t, ip, "POST", "/wp-admin/admin-ajax.php", 200, ua, ref=f"https://{SITE}/wp-admin/post.php")
    t += 30
    tr.access(t, ip, "GET", "/admin/", 401, ua, size=179)
    tr.error(t, ip, "no user/password was provided for basic authentication", "GET /admin/ HTTP/1.1")
    t += 6
    tr.access(t, ip, "GET", "/admin/", 401, ua, user="owner", size=179)
    tr.error(t, ip, 'user "owner": password mismatch', "GET /admin/ HTTP/1.1")
    for path in ("/admin/", "/admin/stats.html", "/admin/logs/"):
        t += tr.rng.uniform(4, 30)
        tr.access(t, ip, "GET", path, 200, ua, user="owner")
    t += 60
    for status in (200, 200, 302):
        t += tr.rng.uniform(6, 15)
        tr.access(t, ip, "POST", "/app/login", status, ua, ref=f"https://{SITE}/app/login")


def api_clients(tr: Traffic, users: int) -> None:
    for n in range(max(2, users // 40)):       # the mobile app: login, then events every 10-20 s
        ip = tr.ip()
        tr.benign[ip] = "mobile app"
        t = tr.rng.uniform(0, SPAN - 1800)
        for status in ([401, 401, 200] if n == 0 else [200]):
            t += tr.rng.uniform(4, 12)
            tr.access(t, ip, "POST", "/app/api/login", status, "okhttp/4.12.0", size=27 if status == 401 else 412)
        end = t + tr.rng.uniform(600, 1800)
        while t < end:
            t += tr.rng.uniform(10, 20)
            tr.access(t, ip, "POST", "/app/api/events", 204, "okhttp/4.12.0", size=0)
    ip = tr.ip()                               # a partner's integration polling the REST API
    tr.benign[ip] = "partner API poller"
    t = 45.0
    while t < SPAN:
        tr.access(t, ip, "GET", "/wp-json/wp/v2/posts?per_page=10&orderby=modified", 200, "python-requests/2.31.0")
        t += 300


def host_logins(tr: Traffic, users: int) -> None:
    """The host's own people and machines in syslog: CI deploys by key, a user's two password typos, a user-name
    typo, cron, inbound mail, a submission typo, IMAP clients (one phone with a stale password), FTP uploads."""
    ci = tr.ip()
    tr.benign[ci] = "CI deploy (ssh key)"
    t = 120.0
    while t < SPAN:
        pid, port = tr.pid(), tr.port()
        tr.syslog(t, "sshd", f"Accepted publickey for deploy from {ci} port {port} ssh2: ED25519 "
                             f"SHA256:Vj8LqP6yW0bC3m2o7VQ3kz1cQ9Xr6m1sZb5v0hXcU8E", pid)
        tr.syslog(t, "sshd", "pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)", pid)
        tr.syslog(t + 14, "sshd", f"Received disconnect from {ci} port {port}:11: disconnected by user", pid)
        tr.syslog(t + 14, "sshd", f"Disconnected from user deploy {ci} port {port}", pid)
        tr.syslog(t + 14, "sshd", "pam_unix(sshd:session): session closed for user deploy", pid)
        t += 600
    t = 300.0
    while t < SPAN:
        tr.syslog(t, "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", tr.pid())
        t += 600
    alice = tr.ip()
    tr.benign[alice] = "ssh user, 2 password typos"
    t = tr.rng.uniform(900, SPAN - 900)
    pid, port = tr.pid(), tr.port()
    tr.syslog(t, "sshd", f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                         f"rhost={alice}  user=alice", pid)
    for _ in range(2):
        t += tr.rng.uniform(3, 8)
        tr.syslog(t, "sshd", f"Failed password for alice from {alice} port {port} ssh2", pid)
    t += 5
    tr.syslog(t, "sshd", f"Accepted password for alice from {alice} port {port} ssh2", pid)
    tr.syslog(t, "sshd", "pam_unix(sshd:session): session opened for user alice(uid=1002) by (uid=0)", pid)
    bob = tr.ip()
    tr.benign[bob] = "ssh user, user-name typo"
    t = tr.rng.uniform(900, SPAN - 900)
    pid, port = tr.pid(), tr.port()
    tr.syslog(t, "sshd", f"Invalid user bbo from {bob} port {port}", pid)
    tr.syslog(t + 4, "sshd", f"Connection closed by invalid user bbo {bob} port {port} [preauth]", pid)
    pid, port = tr.pid(), tr.port()
    tr.syslog(t + 9, "sshd", f"Accepted publickey for bob from {bob} port {port} ssh2: RSA "
                             f"SHA256:0fq4Y3cL9zPq2n8Vv1rXw5kT7uE6aB3dC9eF2gH4iJk", pid)
    _mail(tr)
    _ftp(tr)


def _mail(tr: Traffic) -> None:
    t = tr.rng.uniform(0, 300)
    google = [tr.ip(f"209.85.220.{n}") for n in (41, 69, 73)]
    for ip in google:
        tr.benign[ip] = "Gmail outbound"
    while t < SPAN:
        ip = tr.rng.choice(google)
        pid = tr.pid()
        qid = f"{tr.rng.getrandbits(40):010X}"
        host = f"mail-sor-f{ip.rsplit('.', 1)[1]}.google.com[{ip}]"
        tr.syslog(t, "postfix/smtpd", f"connect from {host}", pid)
        tr.syslog(t + 0.4, "postfix/smtpd", f"{qid}: client={host}", pid)
        tr.syslog(t + 0.9, "postfix/smtpd", f"disconnect from {host} ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 "
                                            f"commands=7", pid)
        t += tr.rng.uniform(180, 480)
    carol = tr.ip()
    tr.benign[carol] = "mail user, 1 SASL typo"
    t = tr.rng.uniform(900, SPAN - 900)
    pid = tr.pid()
    tr.syslog(t, "postfix/submission/smtpd", f"connect from unknown[{carol}]", pid)
    tr.syslog(t + 1, "postfix/submission/smtpd", f"warning: unknown[{carol}]: SASL PLAIN authentication failed: ", pid)
    tr.syslog(t + 9, "postfix/submission/smtpd", f"4B1C2D3E4F: client=unknown[{carol}], sasl_method=PLAIN, "
                                                 f"sasl_username=carol@example.org", pid)
    phones = [tr.ip(), tr.ip()]
    for ip, user in zip(phones, ["alice@example.org", "carol@example.org"]):
        tr.benign[ip] = "IMAP client"
        t = tr.rng.uniform(0, 600)
        while t < SPAN:
            tr.syslog(t, "dovecot", f"imap-login: Login: user=<{user}>, method=PLAIN, rip={ip}, lip=10.0.0.5, "
                                    f"mpid={tr.pid()}, TLS, session=<{tr.rng.getrandbits(64):016x}>")
            t += tr.rng.uniform(300, 900)
    stale = tr.ip()
    tr.benign[stale] = "phone with a stale IMAP password"
    t = tr.rng.uniform(0, 600)
    while t < SPAN:
        tr.syslog(t, "dovecot", f"imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): "
                                f"user=<dave@example.org>, method=PLAIN, rip={stale}, lip=10.0.0.5, TLS, "
                                f"session=<{tr.rng.getrandbits(64):016x}>")
        t += 900


def _ftp(tr: Traffic) -> None:
    web = tr.ip()
    tr.benign[web] = "FTP uploads, 1 typo"
    t = tr.rng.uniform(900, SPAN - 900)
    tr.syslog(t, "vsftpd", f'[web] FAIL LOGIN: Client "::ffff:{web}"', tr.pid(), host="ftp2")
    tr.syslog(t + 8, "vsftpd", f'[web] OK LOGIN: Client "::ffff:{web}"', tr.pid(), host="ftp2")
    t += 600
    tr.syslog(t, "proftpd", f"web1 ({web}[{web}]) - USER web: Login successful.", tr.pid())


BENIGN = [browsers, crawlers, monitors, admin, api_clients, host_logins]
