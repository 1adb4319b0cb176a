"""ClickHouse clients: a native-protocol `clickhouse_driver.Client` from a URL, and chDB behind the same call.

Everything in this package talks to ClickHouse through one method, `execute(query, params=None,
with_column_types=False)`, the `clickhouse_driver.Client` signature. `ChdbClient` gives in-process chDB (current
ClickHouse SQL, no server) that signature, so the migrator, the sink and the analyst queries run unchanged on
both. Server-side errors are `clickhouse_driver.errors.ServerException` from either client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import parse_qs, unquote, urlsplit

from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

__all__ = ["ClickHouseURL", "parse_url", "client_from_url", "ensure_database", "ChdbClient", "ServerException"]


@dataclass(frozen=True)
class ClickHouseURL:
    host: str = "127.0.0.1"
    port: int = 9000
    database: str = "default"
    user: str = "default"
    password: str = ""
    secure: bool = False

    def __repr__(self) -> str:  # secrets masked
        pw = ":***" if self.password else ""
        return f"ClickHouseURL(clickhouse://{self.user}{pw}@{self.host}:{self.port}/{self.database})"


def parse_url(url: str) -> ClickHouseURL:
    """`clickhouse://[user[:password]@]host[:port][/database][?secure=1]` (native protocol, port 9000)."""
    parts = urlsplit(url)
    if parts.scheme not in ("clickhouse", "clickhouses"):
        raise ValueError(f"{url!r}: expected clickhouse://host:port/database")
    query = parse_qs(parts.query)
    secure = parts.scheme == "clickhouses" or query.get("secure", ["0"])[0] in ("1", "true")
    database = unquote(parts.path.lstrip("/")) or "default"
    if not database.replace("_", "").isalnum():
        raise ValueError(f"{database!r}: database names are letters, digits and _")
    return ClickHouseURL(host=parts.hostname or "127.0.0.1", port=parts.port or (9440 if secure else 9000),
                         database=database, user=unquote(parts.username or "default"),
                         password=unquote(parts.password or ""), secure=secure)


def client_from_url(url: str | ClickHouseURL, *, database: str | None = None, connect_timeout: float = 3,
                    send_receive_timeout: float = 30) -> Client:
    """A native-protocol client (it connects lazily, on the first `execute`)."""
    u = parse_url(url) if isinstance(url, str) else url
    return Client(host=u.host, port=u.port, database=database or u.database, user=u.user, password=u.password,
                  secure=u.secure, connect_timeout=connect_timeout, send_receive_timeout=send_receive_timeout,
                  settings={"use_client_time_zone": False})


def ensure_database(url: str | ClickHouseURL) -> None:
    """CREATE DATABASE IF NOT EXISTS for the URL's database (a client cannot connect to a missing one)."""
    u = parse_url(url) if isinstance(url, str) else url
    client = client_from_url(u, database="default")
    try:
        client.execute(f"CREATE DATABASE IF NOT EXISTS {u.database}")
    finally:
        client.disconnect()


def _json_value(value):
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


class ChdbClient:
    """In-process chDB (current ClickHouse) with `clickhouse_driver.Client.execute`'s signature."""

    def __init__(self, path: str | None = None, database: str = "default"):
        from chdb import session

        self._session = session.Session(path) if path else session.Session()
        self.database = database
        if database != "default":
            self._query(f"CREATE DATABASE IF NOT EXISTS {database}")
        self._query(f"USE {database}")
        # numbers as JSON numbers (not quoted 64-bit strings), as clickhouse_driver returns them
        self._query("SET output_format_json_quote_64bit_integers = 0", "CSV")
        self._query("SET session_timezone = 'UTC'", "CSV")     # DateTime text in UTC, whatever the host's

    def _query(self, sql: str, fmt: str = "JSONCompact"):
        try:
            return self._session.query(sql, fmt)
        except RuntimeError as err:
            raise ServerException(str(err)) from None

    def execute(self, query: str, params=None, with_column_types: bool = False):
        stripped = query.rstrip().rstrip(";")
        if stripped.upper().endswith("VALUES") and params is not None:
            return self._insert(stripped[:-len("VALUES")], params)
        if params:
            query = query % _escape_params(params)
        if not _returns_rows(query):
            self._query(query, "CSV")
            return ([], []) if with_column_types else []
        doc = json.loads(self._query(query).data())
        types = [(m["name"], m["type"]) for m in doc["meta"]]
        convert = [_datetime if t.startswith("DateTime") else None for _, t in types]
        rows = [tuple(f(v) if f else v for f, v in zip(convert, r)) for r in doc["data"]]
        return (rows, types) if with_column_types else rows

    def _insert(self, head: str, rows) -> int:
        cols = head[head.index("(") + 1:head.rindex(")")].split(",")
        names = [c.strip().strip("`") for c in cols]
        lines = []
        for row in rows:
            values = row.values() if isinstance(row, dict) else row
            lines.append(json.dumps(dict(zip(names, (_json_value(v) for v in values)))))
        if lines:
            self._query(f"{head} FORMAT JSONEachRow\n" + "\n".join(lines), "CSV")
        return len(lines)

    def disconnect(self) -> None:
        pass

    def close(self) -> None:
        self._session.close()


def _datetime(text: str) -> datetime:
    """A naive datetime in the server time zone, as clickhouse_driver returns DateTime values."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def _returns_rows(query: str) -> bool:
    code = [ln for ln in query.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    head = code[0].split(None, 1)[0].upper() if code else ""
    return head in ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS")


def _escape_params(params: dict) -> dict:
    from clickhouse_driver.util.escape import escape_param

    class _Ctx:  # escape_param reads the server time zone only for datetimes; pass epoch integers instead
        server_info = None

    return {k: escape_param(v, _Ctx()) for k, v in params.items()}
