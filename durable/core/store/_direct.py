"""The hot statements' round trip straight through libpq, for a connection in autocommit.

Eight callers on two cores are bound by the Python a statement costs: by the GIL, or, where
commits are fast, by the cores that Python shares with PostgreSQL's backends (both measured,
docs/performance.md), so that Python caps workflows per second. psycopg's `Cursor.execute`
wraps the round trip in a connection lock, a generator protocol and its prepared-statement
bookkeeping. Here a statement is converted once, its parameters are dumped by psycopg's own
`Transformer` (the adapters Django configured on the connection, as a cursor copies them),
`PGconn.exec_prepared` sends it and waits with the GIL released (off the main thread; on it,
see below), and the same transformer loads the rows: the pieces psycopg's own cursor is made
of, which psycopg exports (its `pq` and `adapt` modules, `errors.error_from_result`),
without the cursor around them.
tests/engine/test_direct_statements.py holds both paths to the same rows and errors.

A statement that failed raises the error psycopg's cursor would raise for it (the caller
wraps it as Django does), a connection lost on the way psycopg's OperationalError, which the
caller's retry settles; nothing is ever sent twice. Only what was never sent (a value
psycopg refuses to dump, a statement the server would not prepare) goes to the cursor
instead, which says why. The cursor keeps everything else (`DirectPath.usable`): a
transaction or pipeline open (psycopg must issue the BEGIN and own the errors there), and a
connection set never to prepare (a pooler's).

The main thread runs signal handlers: Ctrl-C, a Celery task's soft time limit, a worker's
SIGTERM. A blocking libpq call would hold them back for as long as the statement waits (on
a lock, on a host that went away), so there the statement is sent without waiting and
awaited by the loop psycopg's cursor uses (`Connection.wait` over its `execute` generator):
it runs the handlers, and on Ctrl-C cancels the statement in the server as the cursor does.
An exception of any other handler (a soft time limit's) cancels it too, which psycopg's
cursor does not: the statement neither commits after the caller gave up on it nor leaves
the connection busy. Every thread waits so where psycopg itself does not wait in C: under
gevent's monkey-patching (a Celery gevent pool) psycopg waits in the patched `select`,
letting other greenlets run, where a blocking libpq call would stall them all.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Generator
from threading import get_ident
from typing import Any

import psycopg
from psycopg import waiting
from psycopg.adapt import PyFormat, Transformer
from psycopg.errors import error_from_result
from psycopg.generators import execute as results_of
from psycopg.pq import ConnStatus, DiagnosticField, ExecStatus, PipelineStatus, TransactionStatus
from psycopg.pq.abc import PGresult

Rows = list[tuple[Any, ...]]

MOST_PREPARED = 100  # per connection; past it a statement takes psycopg's path (its own LRU)

_IDLE = TransactionStatus.IDLE
_CONNECTION_OK = ConnStatus.OK
_TUPLES_OK = ExecStatus.TUPLES_OK
_COMMAND_OK = ExecStatus.COMMAND_OK
_FATAL_ERROR = ExecStatus.FATAL_ERROR
_PIPELINE_OFF = PipelineStatus.OFF
_ACTIVE = TransactionStatus.ACTIVE
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name: dropped by DEALLOCATE or DISCARD
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%|%")


class Converted:
    """A statement with `%(name)s` placeholders as PostgreSQL reads it: `$1`, `$2`, …"""

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is not None:
                if name not in names:
                    names.append(name)
                return f"${names.index(name) + 1}"
            if match.group(0) == "%%":
                return "%"
            raise ValueError(f"a lone '%' in a statement for the direct path: {sql[:80]!r}")

        self.query = _PLACEHOLDER.sub(number, sql).encode()
        self.names = tuple(names)
        self.formats = [PyFormat.AUTO] * len(names)


class DirectPath:
    """What one psycopg connection has prepared for the direct path. It is kept on the
    connection itself, which a pool may hand from thread to thread with its session's
    prepared statements."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection
        self.transformer = Transformer.from_context(connection)
        self.prepared: dict[tuple[str, tuple[int, ...]], bytes] = {}
        self.made = 0  # names are never reused: a dropped one may still be on the server
        # whether a call that blocks in libpq waits as psycopg would (the module's docstring)
        self.may_block = waiting.wait is getattr(waiting, "wait_c", None)

    def usable(self) -> bool:
        """Whether this statement may take the direct path: each statement commits on its
        own (autocommit, no transaction or pipeline open), and the connection prepares
        statements at all (`prepare_threshold` None is the setting for a pooler that hands
        one session's statements to other clients)."""
        connection = self.connection
        pgconn = connection.pgconn
        return (
            connection.autocommit
            and pgconn.transaction_status == _IDLE
            and pgconn.pipeline_status == _PIPELINE_OFF
            and connection.prepare_threshold is not None
        )

    def execute(self, sql: str, params: dict[str, Any], *, again: bool = True) -> Rows | None:
        """The statement's rows (an empty list for none); None when nothing was sent (a value
        psycopg refuses, a statement the server would not prepare): the caller runs it
        through psycopg's cursor, which says why. A statement that failed raises psycopg's
        error for it, as the cursor would: it is never sent twice."""
        transformer = self.transformer
        try:
            converted = _converted(sql)
            values = transformer.dump_sequence(
                [params[n] for n in converted.names], converted.formats
            )
            key = (sql, tuple(transformer.types or ()))
        except (psycopg.Error, KeyError, ValueError):
            return None
        name = self.prepared.get(key) or self._prepare(key, converted)
        if name is None:
            return None
        pgconn = self.connection.pgconn
        # libpq takes a None among the values as NULL (psycopg's cursor passes them so)
        result = self._round_trip(
            pgconn.exec_prepared, pgconn.send_query_prepared, name, values,
            param_formats=transformer.formats,
        )  # fmt: skip
        while notice := pgconn.notifies():  # LISTENs of the connection's own user
            if pgconn.notify_handler:
                pgconn.notify_handler(notice)
        status = result.status
        if status == _TUPLES_OK:
            transformer.set_pgresult(result)
            return transformer.load_rows(0, result.ntuples, tuple)
        if status == _COMMAND_OK:
            return []
        if status != _FATAL_ERROR:
            raise psycopg.InternalError(f"unexpected result from the direct path: {status!r}")
        encoding = self.connection.info.encoding
        sqlstate = result.error_field(DiagnosticField.SQLSTATE)
        if pgconn.status != _CONNECTION_OK and not sqlstate:
            # lost on the way: whether it committed is the caller's retry to settle
            raise psycopg.OperationalError(result.get_error_message(encoding))
        if again and sqlstate == _NO_SUCH_STATEMENT:
            self.prepared.clear()  # a DEALLOCATE or DISCARD dropped them; nothing ran
            return self.execute(sql, params, again=False)
        raise error_from_result(result, encoding=encoding)

    def _round_trip(
        self,
        blocking: Callable[..., PGresult],
        sending: Callable[..., None],
        *args: Any,
        **kwargs: Any,
    ) -> PGresult:
        """The result of a libpq call that waits (`blocking`), or, on the main thread or under
        gevent, of its counterpart that only sends (`sending`) awaited in psycopg's loop,
        where signal handlers and other greenlets run meanwhile (the module's docstring)."""
        connection = self.connection
        with connection.lock:  # as the cursor holds it: one command at a time
            # the main thread looked up per call: a fork from another thread makes that one
            # the child's main thread (a Celery pool's supervisor forks its workers so)
            if self.may_block and get_ident() != threading.main_thread().ident:
                return blocking(*args, **kwargs)
            results = _sent_then_awaited(connection.pgconn, sending, args, kwargs)
            try:
                return connection.wait(results)[-1]
            except BaseException:
                _cancel_and_drain(connection, results)
                raise

    def _prepare(self, key: tuple[str, tuple[int, ...]], converted: Converted) -> bytes | None:
        """Prepare the statement under a new name; None (the cursor's turn) if the server
        refused it (a lock held by a migration, say: the next call tries again)."""
        if len(self.prepared) >= MOST_PREPARED:
            return None
        self.made += 1
        name = b"durable_direct_%d" % self.made
        pgconn = self.connection.pgconn
        result = self._round_trip(
            pgconn.prepare, pgconn.send_prepare, name, converted.query, param_types=key[1]
        )
        if result.status != _COMMAND_OK:
            return None
        self.prepared[key] = name
        return name


def _sent_then_awaited(
    pgconn: Any, sending: Callable[..., None], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Generator[Any, Any, list[PGresult]]:
    """Send inside the generator psycopg's wait drives, as its cursor does: an interrupt
    before the send leaves nothing running, one after it finds the statement to cancel."""
    sending(*args, **kwargs)
    return (yield from results_of(pgconn))


def _cancel_and_drain(
    connection: psycopg.Connection[Any], results: Generator[Any, Any, list[PGresult]]
) -> None:
    """After an exception in the wait, a statement still running is cancelled in the server
    and its result read, as psycopg does on Ctrl-C (which leaves nothing running here)."""
    if connection.pgconn.transaction_status != _ACTIVE:
        return
    with contextlib.suppress(Exception):  # the caller's exception is the one to raise
        connection.cancel_safe(timeout=5.0)
        connection.wait(results, timeout=5.0)


def _converted(sql: str) -> Converted:
    converted = _CONVERTED.get(sql)
    if converted is None:
        converted = _CONVERTED[sql] = Converted(sql)
    return converted


_CONVERTED: dict[str, Converted] = {}  # the store's statements: a few dozen texts


def direct_path(connection: psycopg.Connection[Any]) -> DirectPath:
    """The direct path of `connection`, made at its first statement."""
    path: DirectPath | None = getattr(connection, "_durable_direct", None)
    if path is None:
        path = connection._durable_direct = DirectPath(connection)  # type: ignore[attr-defined]
    return path
