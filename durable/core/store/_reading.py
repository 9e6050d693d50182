"""Which database a read goes to: the primary, unless a page asked for the read replica.

A dashboard page or a /metrics scrape reads inside `reading_from(alias)`; the ORM (through
`durable.routers.ReadReplicaRouter`) and the store's `execute_read` then read from that
alias. Nothing else sets it, so the engine and every operator action read the primary, and
writes go to the primary everywhere: a stale read never decides a change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

_alias: ContextVar[str | None] = ContextVar("durable_read_alias", default=None)

# -- primary_position --
# Where the primary has written its WAL to now: every change committed before lies before it
PRIMARY_POSITION = "SELECT pg_current_wal_lsn()::text"

# -- flushed_position --
# Where the primary's WAL is flushed to now: all a standby can have received (WAL written but
# not yet flushed is not sent)
FLUSHED_POSITION = "SELECT pg_current_wal_flush_lsn()::text"

# -- replica_lag --
# How far the replica's data trails the primary, in seconds: 0 once it has replayed up to the
# primary's position, else the age of the last transaction it replayed (NULL when it is no
# standby): at most how old its data is, much more when the primary committed nothing for a
# while before; and the position it has replayed up to
REPLICA_LAG = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_replay_lsn() >= %(position)s::pg_lsn THEN 0.0
    ELSE extract(epoch FROM clock_timestamp()
                 - coalesce(pg_last_xact_replay_timestamp(), pg_postmaster_start_time()))::float8
END, coalesce(pg_last_wal_replay_lsn(), %(position)s::pg_lsn)::text
"""


@contextmanager
def reading_from(alias: str | None) -> Iterator[None]:
    """Reads inside go to `alias` (None: the primary), also in what they call."""
    token = _alias.set(alias)
    try:
        yield
    finally:
        _alias.reset(token)


def replica_alias() -> str | None:
    """The replica reads go to now, or None when they go to the primary."""
    return _alias.get()


def read_alias() -> str:
    """The database alias reads go to now."""
    return _alias.get() or DEFAULT_DB_ALIAS


def primary_position() -> str:
    """The primary's WAL position now, e.g. "0/3020E58": a read replica that has replayed
    up to it shows every change committed before."""
    return _position_on_primary(PRIMARY_POSITION)


def flushed_position() -> str:
    """The primary's WAL position a standby can have replayed by now: what it has flushed."""
    return _position_on_primary(FLUSHED_POSITION)


def _position_on_primary(statement: str) -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchone()[0]


def replica_lag(alias: str, position: str) -> tuple[float | None, str]:
    """How far `alias` trails the primary at `position` (its `flushed_position()`), in
    seconds (None: it is not a standby), and the WAL position it has replayed."""
    with connections[alias].cursor() as cursor:
        cursor.execute(REPLICA_LAG, {"position": position})
        lag, replayed = cursor.fetchone()
    return lag, replayed


def position_value(text: str) -> int | None:
    """A WAL position ("16/B374D848") as a number to compare; None if `text` is not one."""
    high, _, low = text.partition("/")
    try:
        return (int(high, 16) << 32) | int(low, 16) if low else None
    except ValueError:
        return None
