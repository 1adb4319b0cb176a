"""Apply `schemas/clickhouse/NNN_name.sql` in order, once each, recording them in `schema_migrations`.

A migration is a file of `;`-separated statements. A first-lines comment `-- requires: FEATURE[, FEATURE]`
makes it conditional: features are detected by creating (and dropping) a scratch table that uses them, so the
same schema directory serves ClickHouse 18.16 (base tables only) and current ClickHouse (plus TTL,
LowCardinality, skipping indexes, insert deduplication). A migration skipped for a missing feature is not
recorded, so running `migrate` again after a server upgrade applies it. `${name}` in a file is replaced by a
parameter (`retention_days`). An applied migration whose file changed since is an error, not silently re-run.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from connectors.clickhouse.client import ServerException
from synsec.engine.errors import SynsecError

__all__ = ["SCHEMA_DIR", "FEATURE_PROBES", "Migration", "MigrateResult", "MigrationError", "load_migrations",
           "detect_features", "migrate", "applied_migrations"]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"

_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_REQUIRES = re.compile(r"^--\s*requires:\s*(.+)$", re.MULTILINE)
_PARAM = re.compile(r"\$\{([a-z_]+)\}")

# feature -> DDL of a scratch table `{t}` that only a server with the feature accepts.
FEATURE_PROBES: dict[str, str] = {
    "ttl": "CREATE TABLE {t} (d DateTime) ENGINE = MergeTree PARTITION BY toYYYYMM(d) ORDER BY d "
           "TTL d + INTERVAL 1 DAY",
    "low_cardinality": "CREATE TABLE {t} (s LowCardinality(String)) ENGINE = MergeTree ORDER BY tuple()",
    "bloom_filter_index": "CREATE TABLE {t} (s String, INDEX i s TYPE bloom_filter GRANULARITY 4) "
                          "ENGINE = MergeTree ORDER BY tuple()",
    "non_replicated_deduplication": "CREATE TABLE {t} (s String) ENGINE = MergeTree ORDER BY tuple() "
                                    "SETTINGS non_replicated_deduplication_window = 10",
}

_MIGRATIONS_DDL = """CREATE TABLE IF NOT EXISTS schema_migrations
(
    version     String,
    name        String,
    checksum    String,
    applied_at  DateTime
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version"""


class MigrationError(SynsecError):
    """A migration could not be loaded or applied; the message names the file (and statement)."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    text: str
    requires: tuple[str, ...] = ()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def statements(self, params: dict) -> list[str]:
        def sub(m: re.Match) -> str:
            if m.group(1) not in params:
                raise MigrationError(f"{self.name}: no value for ${{{m.group(1)}}}")
            return str(params[m.group(1)])

        code = "\n".join(ln for ln in self.text.splitlines() if not ln.lstrip().startswith("--"))
        return [s.strip() for s in _PARAM.sub(sub, code).split(";") if s.strip()]


@dataclass
class MigrateResult:
    applied: list[str] = field(default_factory=list)                   # names applied by this run
    skipped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> missing features
    features: frozenset[str] = frozenset()
    server_version: str = ""


def load_migrations(schema_dir: Path | str = SCHEMA_DIR) -> list[Migration]:
    """The NNN_name.sql files of `schema_dir` in order; MigrationError when there are none (a broken install
    would otherwise "apply" nothing)."""
    paths = sorted(Path(schema_dir).glob("*.sql"))
    if not paths:
        raise MigrationError(f"{schema_dir}: no NNN_name.sql migrations here (an install without synsec's "
                             f"package data?)")
    out, seen = [], {}
    for path in paths:
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path}: expected NNN_name.sql")
        if m.group(1) in seen:
            raise MigrationError(f"{path}: version {m.group(1)} already used by {seen[m.group(1)]}")
        seen[m.group(1)] = path.name
        text = path.read_text()
        requires = tuple(f.strip() for line in _REQUIRES.findall(text) for f in line.split(",") if f.strip())
        unknown = [f for f in requires if f not in FEATURE_PROBES]
        if unknown:
            raise MigrationError(f"{path}: unknown feature(s) {', '.join(unknown)} in '-- requires:'")
        out.append(Migration(m.group(1), path.name, text, requires))
    return out


def detect_features(client, features=None) -> frozenset[str]:
    """The features in FEATURE_PROBES this server accepts (tried on scratch tables, dropped after)."""
    found = set()
    for name in features if features is not None else FEATURE_PROBES:
        table = f"_synsec_probe_{name}_{uuid.uuid4().hex[:8]}"
        try:
            client.execute(FEATURE_PROBES[name].format(t=table))
        except ServerException:
            continue
        client.execute(f"DROP TABLE IF EXISTS {table}")
        found.add(name)
    return frozenset(found)


def applied_migrations(client) -> dict[str, tuple[str, str]]:
    """version -> (name, checksum) of the migrations recorded as applied."""
    client.execute(_MIGRATIONS_DDL)
    rows = client.execute("SELECT version, any(name), any(checksum) FROM schema_migrations GROUP BY version")
    return {v: (n, c) for v, n, c in rows}


def migrate(client, *, schema_dir: Path | str = SCHEMA_DIR, retention_days: int = 365,
            clock=time.time) -> MigrateResult:
    """Apply every pending migration the server supports; idempotent (a second run applies nothing)."""
    if retention_days < 1:
        raise MigrationError(f"retention_days must be >= 1, got {retention_days}")
    migrations = load_migrations(schema_dir)
    done = applied_migrations(client)
    needed = {f for m in migrations if m.version not in done for f in m.requires}
    result = MigrateResult(features=detect_features(client, sorted(needed)))
    result.server_version = client.execute("SELECT version()")[0][0]
    params = {"retention_days": int(retention_days)}
    for mig in migrations:
        if mig.version in done:
            if done[mig.version][1] != mig.checksum:
                raise MigrationError(f"{mig.name}: changed after it was applied (checksum "
                                     f"{done[mig.version][1]} → {mig.checksum}); add a new migration instead")
            continue
        missing = tuple(f for f in mig.requires if f not in result.features)
        if missing:
            result.skipped[mig.name] = missing
            continue
        for n, stmt in enumerate(mig.statements(params), 1):
            try:
                client.execute(stmt)
            except ServerException as err:
                raise MigrationError(f"{mig.name}: statement {n}: {err}") from err
        client.execute("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES",
                       [(mig.version, mig.name, mig.checksum, int(clock()))])
        result.applied.append(mig.name)
    return result
