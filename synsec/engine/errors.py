"""One error tree for synsec. Load errors carry `path:line:field` and are collected, not raised one by one.

Every exception synsec defines descends from `SynsecError` (tests/unit/test_error_tree.py); where callers also
catch a builtin class, it stays a second base (shown in brackets).

    SynsecError
    ├── LoadError                      content that cannot be loaded: path, line, field (synsec.content)
    │   ├── ExprError                  an expression that does not compile, at its field
    │   └── MissingDataFile            a data file in none of the data dirs (synsec.content.datafiles)
    ├── LoadErrors                     every LoadError of one load, collected
    ├── ExprTextError                  expr text errors before they get a place (synsec.engine.expr)
    │   ├── LexError
    │   ├── ParseError
    │   └── CompileError
    ├── RegexError [ValueError]        a regexp RE2 refuses (synsec.engine.expr.regex)
    ├── ExprRuntimeError               an expression failed on one event: counted, never fatal
    ├── DurationError [ValueError]     a duration out of bounds or unreadable (synsec.engine.durations)
    ├── MetricsParseError [ValueError] Prometheus text that cannot be read (synsec.metrics)
    ├── DecodeError, EncodeError       a topic value that is not what its schema says (synsec.wire.codecs)
    ├── RegistryError                  schema ids (synsec.wire.registry)
    │   └── UnknownSchemaId
    ├── TemplateError                  a notification template that does not compile or render (synsec.engine.notify_template)
    ├── AllowlistError [ValueError]    a bad allowlist name, item or size; an unknown or existing list (synsec.store.allowlists)
    ├── HubError                       a hub index, item, download or install refused (synsec.hub)
    ├── KafkaSettingsError             connection settings that cannot work (synsec.wire.kafka)
    ├── KafkaAdminError, BrokerError   topic administration, the bundled broker (connectors.kafka)
    ├── InputError [ValueError]        a decision typed by a person (connectors.api.inputs), an alert pushed → 400
    │   └── Oversize                   a batch of pushed alerts too large (connectors.api.alert_input) → 413
    ├── QueryError [ValueError]        LAPI query parameters (connectors.api.query) → 400
    ├── Forbidden, Throttled           an API key refused → 403, too many refusals → 429 (connectors.api.server)
    ├── ApiError [RuntimeError]        what ccscli's API client got back (connectors.api.client)
    ├── TokenError                     a login token (LAPI or central) malformed, badly signed or expired (connectors.api.tokens)
    ├── Unauthorized                   no valid token for a registered watcher or machine → 401
    │                                  (connectors.central.server, connectors.api.machines)
    ├── BrokerUnavailable              the broker did not ack central's signals in time → 503 (connectors.central.bus)
    ├── CapiError                      what an installation got back from the Central API (connectors.crowd.client)
    ├── DeliveryError                  one failed notification delivery, retried (connectors.notify.senders)
    ├── _Timeout, _NoName, _Failed     one reverse-DNS lookup's outcome inside the resolver (synsec.assembly.rdns)
    ├── StatsUnavailable               the dashboard's ClickHouse did not answer → 503 (connectors.api.dashboard)
    ├── MigrationError                 ClickHouse DDL migrations (connectors.clickhouse.migrate)
    ├── QueryError                     an analyst query or its parameters (connectors.clickhouse.queries)
    └── SinkBackpressure               the ClickHouse sink cannot take more yet (connectors.clickhouse.sink)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SynsecError", "Where", "LoadError", "ExprError", "ExprTextError", "LoadErrors", "ErrorCollector"]


class SynsecError(Exception):
    """Root of every error synsec raises on purpose."""


@dataclass(frozen=True)
class Where:
    """A place in a content file: path, 1-based line (0 when unknown) and the field's dotted name."""

    path: str = "<string>"
    line: int = 0
    field: str = ""

    def __str__(self) -> str:
        out = self.path
        if self.line:
            out += f":{self.line}"
        if self.field:
            out += f": {self.field}"
        return out

    def child(self, field: str, line: int | None = None) -> "Where":
        name = f"{self.field}.{field}" if self.field else field
        return Where(self.path, self.line if line is None else line, name)


class LoadError(SynsecError):
    """Content that cannot be loaded: names the file, line and field."""

    def __init__(self, where: Where, message: str):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


class ExprError(LoadError):
    """An `expr` expression that does not compile (syntax error, unknown helper, bad arity)."""


class ExprTextError(SynsecError):
    """An error at a 0-based offset of an expression's text (lexing, parsing, compiling); the compiler turns it
    into an ExprError naming the file, line and field."""

    def __init__(self, message: str, pos: int):
        super().__init__(message)
        self.message = message
        self.pos = pos


class LoadErrors(SynsecError):
    """Every load error found in one pass over the content."""

    def __init__(self, errors: list[LoadError]):
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} content error(s):\n{lines}")


@dataclass
class ErrorCollector:
    """Collects load errors so that one lint run reports all of them (pySigma's collect_errors)."""

    errors: list[LoadError] = field(default_factory=list)
    _seen: set = field(default_factory=set, repr=False)

    def add(self, err: LoadError) -> None:
        """Record an error once: two phases finding the same problem report it once (a set: content with
        200,000 bad entries must not take quadratic time)."""
        key = (err.where, err.message)
        if key not in self._seen:
            self._seen.add(key)
            self.errors.append(err)

    def guard(self, fn, *args, **kwargs):
        """Call fn; on LoadError record it and return None."""
        try:
            return fn(*args, **kwargs)
        except LoadErrors as many:
            for err in many.errors:
                self.add(err)
        except LoadError as err:
            self.add(err)
        return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise LoadErrors(self.errors)
