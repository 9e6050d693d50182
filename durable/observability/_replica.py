"""Reads on the replica for a page: whether the replica answers, and how far it trails.

The state is probed at most once a second per process (`CACHE_SECONDS`): a page view costs
no extra round trips beyond that. The lag is the age of the last commit the replica applied,
at most the time since the previous probe once it has what the primary had then; above the
notice threshold it is confirmed by waiting up to `CONFIRM_SECONDS` for the replica to catch
up, once per lag. A replica that cannot be reached is given up for `DOWN_SECONDS` (so a dead
host does not cost every page a connect timeout): pages read the primary and say so, then
the next probe tries the replica again. A query the replica cancels (a conflict with the WAL
it replays) is read once more on the primary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from django.db import DatabaseError, connections

from durable.core.conf import settings
from durable.core.store import _reading as reading

logger = logging.getLogger("durable.replica")
T = TypeVar("T")

CACHE_SECONDS = 1.0
DOWN_SECONDS = 5.0
CONFIRM_SECONDS = 0.5  # how long a probe waits for a replica that seems to lag to catch up
NOTED_SECONDS = 5.0  # a lag noted this recently is believed without waiting again
RECOVERY_CONFLICT = "40001"  # SQLSTATE of a standby query cancelled by the WAL it replays


@dataclass(frozen=True)
class ReadState:
    """Where a page read: `alias` (None: the primary), the replica's `lag` in seconds when
    it exceeded DURABLE_READ_LAG_NOTICE_SECONDS (else None), and `unreachable` (the error)
    when the replica was configured but could not be reached."""

    alias: str | None = None
    lag: float | None = None
    unreachable: str = ""
    replayed: int = 0  # the WAL position the replica had replayed when probed
    flushed: int = 0  # the primary's flushed WAL position when probed
    probed_at: float = 0.0  # when (time.monotonic())

    @property
    def on_replica(self) -> bool:
        return self.alias is not None


_cache: dict[str, tuple[float, ReadState]] = {}
_probing: set[str] = set()  # aliases a thread is probing now: the others keep the last state
_lock = threading.Lock()


def _probe(alias: str, previous: ReadState | None) -> ReadState:
    probed_at = time.monotonic()
    position = reading.flushed_position()  # a primary that is down fails the page as ever
    try:
        lag, replayed = reading.replica_lag(alias, position)
        lag = _bounded(lag, reading.position_value(replayed) or 0, previous, probed_at)
        notice = settings.DURABLE_READ_LAG_NOTICE_SECONDS
        if lag is not None and lag > notice and not _noted_lately(previous, probed_at):
            lag, replayed = _confirm(alias, position, lag, replayed)
    except DatabaseError as exc:
        return give_up(alias, exc)
    return ReadState(
        alias=alias,
        lag=lag if lag is not None and lag > notice else None,
        replayed=reading.position_value(replayed) or 0,
        flushed=reading.position_value(position) or 0,
        probed_at=probed_at,
    )


def _bounded(
    lag: float | None, replayed: int, previous: ReadState | None, now: float
) -> float | None:
    """The lag, at most the time since the previous probe when the replica has replayed what
    the primary had flushed then: it has every commit made before that probe."""
    if lag and previous and previous.flushed and replayed >= previous.flushed:
        return min(lag, now - previous.probed_at)  # (only a replica's state has `flushed`)
    return lag


def _noted_lately(previous: ReadState | None, now: float) -> bool:
    return bool(previous and previous.lag and now - previous.probed_at < NOTED_SECONDS)


def _confirm(alias: str, position: str, lag: float, replayed: str) -> tuple[float | None, str]:
    """The lag measured last, unless the replica reaches `position` within CONFIRM_SECONDS:
    then it was that close. A replica a moment behind a primary that had committed nothing
    for a minute reads a minute old (the age of the last commit it applied); only a wait
    tells the two apart. A lag noted lately is not waited for again (`NOTED_SECONDS`)."""
    started = time.monotonic()
    pause = 0.01
    while (waited := time.monotonic() - started) < CONFIRM_SECONDS:
        time.sleep(min(pause, CONFIRM_SECONDS - waited))
        pause = min(pause * 2, 0.1)
        lag_now, replayed = reading.replica_lag(alias, position)
        if lag_now is None:  # promoted meanwhile: no standby, no lag
            return None, replayed
        if lag_now == 0.0:
            return time.monotonic() - started, replayed
        lag = lag_now
    return lag, replayed


def state(alias: str) -> ReadState:
    """The replica's state, probed at most once per CACHE_SECONDS (DOWN_SECONDS once it
    could not be reached), by one thread at a time: the others keep the last state while a
    probe waits (`_confirm`)."""
    with _lock:
        cached = _cache.get(alias)
        if cached and (time.monotonic() < cached[0] or alias in _probing):
            return cached[1]
        _probing.add(alias)
    try:
        fresh = _probe(alias, cached[1] if cached else None)
    finally:
        with _lock:
            _probing.discard(alias)
    if fresh.on_replica:
        with _lock:
            _cache[alias] = (time.monotonic() + CACHE_SECONDS, fresh)
    return fresh


def give_up(alias: str, error: BaseException) -> ReadState:
    """The replica cannot be reached: pages read the primary for DOWN_SECONDS."""
    connections[alias].close()
    logger.warning("read replica %r unreachable (%s): pages read the primary", alias, error)
    first_line = str(error).strip().splitlines()[:1]
    fallen = ReadState(unreachable=first_line[0] if first_line else type(error).__name__)
    with _lock:
        _cache[alias] = (time.monotonic() + DOWN_SECONDS, fallen)
    return fallen


@contextmanager
def replica_reads(after: str = "") -> Iterator[ReadState]:
    """Reads inside go to DURABLE_READ_DATABASE when it answers and has replayed the
    primary's WAL up to `after` (a `primary_position()`: what this reader changed), else to
    the primary."""
    alias = settings.DURABLE_READ_DATABASE
    current = state(alias) if alias else ReadState()
    needed = reading.position_value(after) if after else None
    if current.on_replica and needed is not None and current.replayed < needed:
        current = ReadState()  # the reader's own change is not there yet: the primary has it
    with reading.reading_from(current.alias):
        yield current


def primary_position() -> str:
    """The primary's WAL position now, when reads go to a replica ("" otherwise, or when
    the primary cannot say): pass it as `after` to read one's own changes."""
    if not settings.DURABLE_READ_DATABASE:
        return ""
    try:
        return reading.primary_position()
    except DatabaseError:
        return ""


@contextmanager
def primary_reads() -> Iterator[None]:
    """Reads inside go to the primary, also within a page (work that writes what it read)."""
    with reading.reading_from(None):
        yield


def read_on_replica(read: Callable[[ReadState], T], after: str = "") -> T:
    """`read(state)` inside `replica_reads(after)`; when the replica fails on the way (it
    went down, or cancelled the query for a conflict with recovery), `read` once more on the
    primary, its state saying so."""
    with replica_reads(after) as current:
        try:
            return read(current)
        except DatabaseError as exc:
            if not current.alias:
                raise
            if _cancelled_by_recovery(exc):
                fallen = ReadState()  # the replica is fine; this query is the primary's
            elif _usable(current.alias):
                raise  # the statement failed, not the replica: not the primary's to redo
            else:
                fallen = give_up(current.alias, exc)
    with primary_reads():
        return read(fallen)


def _cancelled_by_recovery(exc: BaseException) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == RECOVERY_CONFLICT


def _usable(alias: str) -> bool:
    connection = connections[alias]
    return connection.connection is not None and connection.is_usable()
