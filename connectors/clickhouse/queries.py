"""The analyst queries shipped as `schemas/clickhouse/queries/*.sql`, loaded and run with checked parameters.

Each file is one SELECT. Its first comment line says what it answers; a `-- params: a b c` line lists the
parameters, written `%(name)s` in the SQL and substituted (escaped) by the client, since ClickHouse 18.16 has
no server-side query parameters. Times are epoch seconds (`toDateTime(%(start)s)`), so the text is the same
on every server and in every time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from connectors.clickhouse.migrate import SCHEMA_DIR
from synsec.engine.errors import SynsecError

__all__ = ["QUERY_DIR", "Query", "QueryResult", "load_queries", "QueryError"]

QUERY_DIR = SCHEMA_DIR / "queries"

_PARAMS = re.compile(r"^--\s*params:(.*)$", re.MULTILINE)
_USED = re.compile(r"%\((\w+)\)s")


class QueryError(SynsecError):
    pass


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, r)) for r in self.rows]


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    params: tuple[str, ...]
    sql: str

    def run(self, client, **params) -> QueryResult:
        missing = [p for p in self.params if p not in params]
        extra = [p for p in params if p not in self.params]
        if missing or extra:
            raise QueryError(f"{self.name}: missing {missing or 'nothing'}, unexpected {extra or 'nothing'}; "
                             f"takes {', '.join(self.params)}")
        rows, types = client.execute(self.sql, params, with_column_types=True)
        return QueryResult([name for name, _ in types], [tuple(r) for r in rows])


def load_queries(query_dir: Path | str = QUERY_DIR) -> dict[str, Query]:
    """name -> Query for each `*.sql` of `query_dir`; QueryError when there are none."""
    paths = sorted(Path(query_dir).glob("*.sql"))
    if not paths:
        raise QueryError(f"{query_dir}: no *.sql analyst queries here (an install without synsec's "
                         f"package data?)")
    out = {}
    for path in paths:
        text = path.read_text()
        declared = tuple(p for line in _PARAMS.findall(text) for p in line.split())
        used = set(_USED.findall(text))
        if used != set(declared):
            raise QueryError(f"{path}: '-- params:' lists {sorted(declared)} but the SQL uses {sorted(used)}")
        first = next((ln for ln in text.splitlines() if ln.startswith("--")), "-- ")
        out[path.stem] = Query(path.stem, first[2:].strip(), declared, text)
    return out
