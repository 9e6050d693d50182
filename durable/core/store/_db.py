"""Riding out database blips: which errors are transient, and retrying them in place.

A live executor that loses its connection for a moment (a restart, a failover, a dropped
connection) keeps its runs: every engine statement is retried on a fresh connection with
exponential backoff and jitter for up to DURABLE_DB_RETRY_SECONDS. Only an outage longer
than that gives the run up (`DatabaseUnavailable`), and the executor then releases it.

Retries never happen inside an open `atomic()` block: there the whole transaction is lost
with the connection, so the caller that opened it (a `@durable.transaction` step) retries
it as a whole. Deterministic errors (a constraint, bad data) are never retried here.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import psycopg
from django.db import connection, transaction
from django.db.utils import InterfaceError, OperationalError

from durable.core.conf import settings

logger = logging.getLogger("durable")

T = TypeVar("T")

FIRST_DELAY = 0.05
MAX_DELAY = 1.0  # a short cap: an outage's end is noticed within a second
# admin/crash shutdown, cannot connect now, and the server's idle_session_timeout ending a
# session that waited too long between statements: a fresh connection goes on
TRANSIENT_SQLSTATES = {"57P01", "57P02", "57P03", "57P05"}
CONFLICT_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected

_outage_ended_at = float("-inf")


class DatabaseUnavailable(Exception):  # noqa: N818 - the name says what happened
    """The database stayed unreachable for longer than DURABLE_DB_RETRY_SECONDS."""


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is a lost or refused connection (retry it), not a deterministic error.

    SQLSTATE class 08 (connection exceptions), 57P01-57P03 (the server shutting down,
    crashed, or not yet accepting connections) and 57P05 (a session ended for idling) are
    transient; so is a psycopg OperationalError without a SQLSTATE (refused, reset, "server
    closed the connection") and Django's InterfaceError for a connection closed under it.
    """
    for error in _chain(exc):
        if isinstance(error, psycopg.Error | OperationalError | InterfaceError):
            sqlstate = getattr(error, "sqlstate", None)
            if sqlstate:
                return sqlstate.startswith("08") or sqlstate in TRANSIENT_SQLSTATES
            if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
                return True
            if isinstance(error, InterfaceError):
                return True
    return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the errors it was raised from (Django wraps psycopg's), each once."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_conflict(exc: BaseException) -> bool:
    """Whether `exc` (or an error it was raised from) is a serialization failure or a
    deadlock: the server rolled the transaction back, and running it again may succeed."""
    return any(getattr(error, "sqlstate", None) in CONFLICT_SQLSTATES for error in _chain(exc))


class Conflicts:
    """The budget of a transaction that lost a serialization conflict or a deadlock:
    DURABLE_TRANSACTION_CONFLICT_RETRIES reruns, with jittered exponential backoff."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.budget = settings.DURABLE_TRANSACTION_CONFLICT_RETRIES
        self.reruns = 0
        self.delay = FIRST_DELAY

    def wait(self, exc: BaseException) -> bool:
        """After a conflict: False when the budget is spent (the error is the step's), else
        sleep a while so the winner commits first, and True (run the transaction again)."""
        if self.reruns >= self.budget:
            return False
        self.reruns += 1
        logger.info("%s: transaction rolled back by a conflict (%s); rerun %d of %d",
                    self.what, _first_line(exc), self.reruns, self.budget)  # fmt: skip
        time.sleep(self.delay * random.uniform(0.5, 1.0))
        self.delay = min(self.delay * 2, MAX_DELAY)
        return True


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def retrying(
    statement: Callable[[], T],
    *,
    what: str,
    settle: Callable[[], T | None] | None = None,
) -> T:
    """Run `statement`, retrying transient connection errors on a fresh connection.

    `what` names it in log lines (a label, or SQL whose `-- name --` line is used).
    `settle`, when given, runs before each retry: a statement whose commit may have
    succeeded with its reply lost is looked for first, and its result (when not None) is
    returned instead of running the statement twice. Inside an atomic block nothing is
    retried: the error goes to whoever opened the transaction. The first try costs nothing
    beyond the statement itself (the hot path).
    """
    if connection.in_atomic_block:
        return statement()
    try:
        return statement()
    except Exception as exc:
        if not is_transient(exc):
            raise
        failure: BaseException = exc
    return retry_after(failure, statement, what=what, settle=settle)


def retry_after(
    failure: BaseException,
    statement: Callable[[], T],
    *,
    what: str,
    settle: Callable[[], T | None] | None = None,
) -> T:
    """`retrying` from its first failure on: for a caller that made the first try itself
    (`store._execute_prepared`), outside an atomic block, and saw a transient error."""
    outage = Outage(what)
    while True:
        outage.wait(failure)
        try:
            result = statement() if settle is None else _settled(settle, statement)
        except Exception as exc:
            if not is_transient(exc):
                raise
            failure = exc
            continue
        outage.over()
        return result


def atomic_retrying(body: Callable[[], T], *, settle: Callable[[], tuple[bool, T]], what: str) -> T:
    """Run `body` in a transaction of its own; a connection lost on the way retries it whole.

    Whether a transaction committed is unknown when its connection drops, so `settle` is
    asked first (found, value): a commit whose reply was lost is found, not redone. Inside
    an outer atomic block nothing is retried, as in `retrying`.
    """
    outage = Outage(what)
    while True:
        try:
            with transaction.atomic():
                result = body()
        except Exception as exc:
            if connection.in_atomic_block or not is_transient(exc):
                raise
            outage.wait(exc)
        else:
            outage.over()
            return result
        found, value = retrying(settle, what=f"{what}: read back")
        if found:
            outage.over()
            return value


class Outage:
    """Backoff with jitter across the tries of one statement or transaction, within the
    DURABLE_DB_RETRY_SECONDS budget; raises DatabaseUnavailable once it is spent."""

    def __init__(self, what: str) -> None:
        self.what = _label(what)
        self.budget = settings.DURABLE_DB_RETRY_SECONDS
        self.deadline = time.monotonic() + self.budget
        self.delay = FIRST_DELAY
        self.failures = 0

    def wait(self, exc: BaseException) -> None:
        """After a transient error: drop the connection and sleep before the next try."""
        self.failures += 1
        reset_connection()
        if time.monotonic() + self.delay > self.deadline:
            raise DatabaseUnavailable(
                f"{self.what}: the database stayed unreachable for {self.budget:g}s "
                f"(DURABLE_DB_RETRY_SECONDS): {exc}"
            ) from exc
        if self.failures == 1:
            logger.warning("%s: database connection lost (%s); retrying", self.what, exc)
        time.sleep(self.delay * random.uniform(0.5, 1.0))
        self.delay = min(self.delay * 2, MAX_DELAY)

    def over(self) -> None:
        """The statement went through; note when an outage ended (see the sweep)."""
        if self.failures:
            _note_outage_end()
            logger.info("%s: database reachable again after %d tries", self.what, self.failures)


def _label(what: str) -> str:
    """A statement's name from its `-- name --` header line, else `what` itself."""
    for line in what.splitlines():
        if line.startswith("-- ") and line.rstrip().endswith(" --"):
            return line.strip("- ").strip()
    return what if "\n" not in what else "statement"


def _settled(settle: Callable[[], T | None], statement: Callable[[], T]) -> T:
    found = settle()
    return found if found is not None else statement()


def reset_connection() -> None:
    """Drop this thread's broken connection so the next statement opens a new one."""
    try:
        connection.close()
    except Exception:  # closing a dead socket may fail too; the wrapper is reset anyway
        connection.connection = None


def _note_outage_end() -> None:
    global _outage_ended_at
    _outage_ended_at = time.monotonic()


def seconds_since_outage() -> float:
    """How long ago this process last saw the database come back (inf if never)."""
    return time.monotonic() - _outage_ended_at


def forget_outages() -> None:
    """Tests: start with no outage in memory (see `seconds_since_outage`)."""
    global _outage_ended_at
    _outage_ended_at = float("-inf")


def listening_connection() -> psycopg.Connection:
    """A connection of its own for LISTEN (Django's settings: database, host, user), in
    autocommit so each notice is sent and heard at once; the caller closes it."""
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold", "client_encoding"):
        params.pop(key, None)
    return psycopg.connect(**params, autocommit=True)
