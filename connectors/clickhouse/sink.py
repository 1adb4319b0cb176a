"""Batched, idempotent inserts of alerts and decisions, with back-pressure and retry instead of loss.

    sink = ClickHouseSink(lambda: client_from_url(url), batch_size=5000, max_age_s=1.0)
    sink.add(alert, position=(tp, offset))      # raises SinkBackpressure when the buffer is full
    flushed = sink.flush_due()                  # inserts when the batch is full or old enough
    if flushed: consumer.commit(flushed.positions)

The sink is single-threaded and never sleeps on its own: a failed insert keeps every buffered row, drops the
client (a fresh one from `client_factory` on the next try) and schedules the next attempt with exponential
back-off. While rows are waiting, `add` accepts rows up to `max_buffer`, then refuses with `SinkBackpressure`
(the caller pauses its input; nothing is dropped). `positions` passed to `add`/`skip` — any hashable key, e.g.
a Kafka TopicPartition, with an increasing offset — are reported by a flush only once every row added before
them is in ClickHouse, so a consumer that commits them never commits a row that was not inserted.
Redelivered records are harmless: the tables are ReplacingMergeTree keyed by the records' ids.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Hashable

from connectors.clickhouse.rows import Table, insert_query, table_for
from synsec.engine.errors import SynsecError

__all__ = ["ClickHouseSink", "SinkBackpressure", "Flushed", "SinkStats"]

log = logging.getLogger(__name__)


class SinkBackpressure(SynsecError):
    """The buffer is full because ClickHouse is not taking inserts; retry after `retry_after` seconds."""

    def __init__(self, buffered: int, retry_after: float, last_error: str):
        super().__init__(f"ClickHouse sink buffer full ({buffered} rows); retry in {retry_after:.2f}s; "
                         f"last error: {last_error}")
        self.buffered = buffered
        self.retry_after = retry_after


@dataclass(frozen=True)
class Flushed:
    """A successful flush: rows inserted per table, and the positions now safe to commit."""

    rows: dict[str, int]
    positions: dict[Hashable, int]      # key -> highest offset whose row (and all before it) is stored
    seconds: float


@dataclass
class SinkStats:
    added: int = 0
    inserted: int = 0
    batches: int = 0
    failures: int = 0
    last_error: str = ""


@dataclass
class _Buffer:
    table: Table
    rows: list = field(default_factory=list)


class ClickHouseSink:
    def __init__(self, client_factory: Callable[[], object], *, batch_size: int = 1000, max_age_s: float = 1.0,
                 max_buffer: int | None = None, retry_initial_s: float = 0.1, retry_max_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if batch_size < 1 or max_age_s <= 0:
            raise ValueError("batch_size must be >= 1 and max_age_s > 0")
        self.client_factory = client_factory
        self.batch_size = batch_size
        self.max_age_s = max_age_s
        self.max_buffer = max_buffer if max_buffer is not None else 10 * batch_size
        if self.max_buffer < batch_size:
            raise ValueError("max_buffer must be >= batch_size")
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.clock = clock
        self.sleep = sleep
        self.stats = SinkStats()
        self._client = None
        self._buffers: dict[str, _Buffer] = {}
        self._pending = 0
        self._positions: dict[Hashable, int] = {}
        self._oldest: float | None = None          # clock() when the oldest unflushed item arrived
        self._delay = 0.0                           # current back-off; 0 when the last attempt succeeded
        self._next_try = 0.0

    # --- input ---
    @property
    def buffered(self) -> int:
        return self._pending

    def room(self) -> int:
        """Rows `add` accepts before refusing."""
        return max(self.max_buffer - self._pending, 0)

    @property
    def retrying(self) -> bool:
        """True while the last insert failed and the next one is scheduled with back-off."""
        return self._delay > 0

    def add(self, record, position: tuple[Hashable, int] | None = None) -> None:
        """Buffer an Alert or Decision; refuses with SinkBackpressure (dropping nothing) when full."""
        table = table_for(record)
        if self._pending >= self.max_buffer:
            raise SinkBackpressure(self._pending, max(self._next_try - self.clock(), 0.0), self.stats.last_error)
        row = table.row(record)
        buf = self._buffers.get(table.name)
        if buf is None:
            buf = self._buffers[table.name] = _Buffer(table)
        buf.rows.append(row)
        self._pending += 1
        self.stats.added += 1
        self._touch(position)

    def skip(self, position: tuple[Hashable, int]) -> None:
        """Mark a position that has no row (tombstone, dead-lettered message) as done once earlier rows are."""
        self._touch(position)

    def _touch(self, position) -> None:
        if self._oldest is None:
            self._oldest = self.clock()
        if position is not None:
            key, offset = position
            if offset > self._positions.get(key, -1):
                self._positions[key] = offset

    def forget(self, keys) -> None:
        """Stop reporting positions for `keys` (partitions revoked); their buffered rows are still inserted."""
        for key in keys:
            self._positions.pop(key, None)

    # --- output ---
    def due(self) -> bool:
        """A flush should be attempted now (batch full or oldest item old enough, and not backing off)."""
        if self._oldest is None:
            return False
        now = self.clock()
        if now < self._next_try:
            return False
        return self._pending >= self.batch_size or now - self._oldest >= self.max_age_s

    def flush_due(self) -> Flushed | None:
        """Flush if due; None if nothing was due or the insert failed (rows kept, retry scheduled)."""
        return self.flush() if self.due() else None

    def flush(self) -> Flushed | None:
        """Insert everything buffered now; None on failure (rows kept, next attempt backed off)."""
        if self._oldest is None:
            return None
        t0 = time.perf_counter()
        rows: dict[str, int] = {}
        try:
            client = self._client if self._client is not None else self.client_factory()
            self._client = client
            for name in list(self._buffers):
                buf = self._buffers[name]
                while buf.rows:  # a stored chunk leaves the buffer at once: a retry does not resend it
                    chunk = buf.rows[:self.batch_size]
                    client.execute(insert_query(buf.table), chunk)
                    del buf.rows[:len(chunk)]
                    self._pending -= len(chunk)
                    rows[name] = rows.get(name, 0) + len(chunk)
                    self.stats.inserted += len(chunk)
                    self.stats.batches += 1
                del self._buffers[name]
        except Exception as err:  # noqa: BLE001 — any failure: keep the rows, reconnect, back off
            self._failed(err)
            return None
        self._delay = 0.0
        self._next_try = 0.0
        positions, self._positions, self._oldest = self._positions, {}, None
        return Flushed(rows, positions, time.perf_counter() - t0)

    def _failed(self, err: Exception) -> None:
        self.stats.failures += 1
        self.stats.last_error = f"{type(err).__name__}: {err}"
        self._delay = min(self._delay * 2 if self._delay else self.retry_initial_s, self.retry_max_s)
        self._next_try = self.clock() + self._delay
        log.warning("ClickHouse insert failed (%s); %d rows kept, retry in %.2fs",
                    self.stats.last_error.splitlines()[0], self._pending, self._delay)
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
            except Exception:  # noqa: BLE001 — the connection is already broken
                pass

    def flush_blocking(self, timeout_s: float | None = None) -> Flushed | None:
        """Flush, retrying with back-off until it succeeds (or `timeout_s` passes: None)."""
        deadline = None if timeout_s is None else self.clock() + timeout_s
        while True:
            wait = self._next_try - self.clock()
            if wait > 0:
                if deadline is not None and self.clock() + wait > deadline:
                    return None
                self.sleep(wait)
            flushed = self.flush()
            if flushed is not None or self._oldest is None:
                return flushed

    def close(self, timeout_s: float | None = None) -> Flushed | None:
        flushed = self.flush_blocking(timeout_s) if self._oldest is not None else None
        if self._client is not None:
            self._client.disconnect()
            self._client = None
        return flushed
