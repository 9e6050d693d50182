"""The store's one execute path: every statement runs on Django's connection and rides out a
dropped connection through `_db.retrying`.

Statements run in autocommit mode (so `@durable.transaction` steps share the caller's
transaction): each call is one database round trip. The hot path's statements (a run's
insert, its checkpoints, its finish) go through `_execute_prepared`: prepared once per
connection, so PostgreSQL stops parsing and planning them every time, and sent straight
through libpq in autocommit (`_direct`), since the Python a statement costs under the GIL
is what caps workflows per second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
from psycopg.pq import ExecStatus

from durable.core.store import _db as db
from durable.core.store import _direct as direct
from durable.core.store import _reading as reading

Rows = list[tuple[Any, ...]]
TUPLES_OK = ExecStatus.TUPLES_OK


def execute(
    sql: str, params: dict[str, Any], settle: Callable[[], Rows | None] | None = None
) -> Rows:
    """One statement; a lost connection is retried in place (`durable.core.store._db.retrying`)."""
    return db.retrying(lambda: _execute_once(sql, params), what=sql, settle=settle)


def execute_read(sql: str, params: dict[str, Any]) -> Rows:
    """A read for a page (`_reading`): on the read replica when the page asked for it, once
    (a replica that drops is the page's to fall back from), else on the primary like `execute`."""
    alias = reading.read_alias()
    if alias == DEFAULT_DB_ALIAS:
        return execute(sql, params)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _execute_once(sql: str, params: dict[str, Any]) -> Rows:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _execute_prepared(
    sql: str, params: dict[str, Any], settle: Callable[[], Rows | None] | None = None
) -> Rows:
    """Like `execute`, on the same connection and transaction, as a prepared statement:
    parsed and planned once per connection, not once per checkpoint (Django's own cursors
    bind client-side and never prepare).

    The first try is made here, not in `db.retrying`: whether an atomic block is open is
    asked only when the statement failed (Django's `connection` proxy costs a thread-local
    lookup per attribute: 2.4 µs, a tenth of the engine's Python per step)."""
    try:
        return _prepared_once(sql, params)
    except Exception as exc:
        if connections[DEFAULT_DB_ALIAS].in_atomic_block or not db.is_transient(exc):
            raise  # inside a transaction the error goes to whoever opened it
        failure = exc
    return db.retry_after(failure, lambda: _prepared_once(sql, params), what=sql, settle=settle)


def _prepared_once(sql: str, params: dict[str, Any]) -> Rows:
    """One round trip on this thread's connection: straight through libpq where `_direct`
    may (autocommit, a connection that prepares), else through a psycopg cursor kept with
    it (no Django cursor wrapper, no new cursor per statement); Django's error wrapping
    only when it fails."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's, looked up once
    if wrapper.connection is None:  # (ensure_connection's own check, without its wrapper)
        wrapper.ensure_connection()
    wrapper.validate_no_broken_transaction()
    path = direct.direct_path(wrapper.connection)
    try:
        if path.usable():
            rows = path.execute(sql, params)
            if rows is not None:
                return rows
        cursor = _hot_cursor(wrapper)
        cursor.execute(sql, params, prepare=True)
    except psycopg.Error:
        with wrapper.wrap_database_errors:  # re-raised as Django's error, from psycopg's
            raise
    result = cursor.pgresult
    return cursor.fetchall() if result is not None and result.status == TUPLES_OK else []


def _hot_cursor(wrapper: Any) -> psycopg.Cursor:
    """The psycopg cursor kept on this thread's connection; a new one after a reconnect."""
    cursor: psycopg.Cursor | None = getattr(wrapper, "_durable_cursor", None)
    if cursor is None or cursor.connection is not wrapper.connection or cursor.closed:
        cursor = wrapper._durable_cursor = psycopg.Cursor(wrapper.connection)
    return cursor
