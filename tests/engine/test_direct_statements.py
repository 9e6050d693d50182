"""The hot path's statements go straight through libpq in autocommit (store._direct): same
rows, same errors and the same transactions as psycopg's own cursor gives them.

Every thread takes the path; the main one waits in psycopg's interruptible loop (its signal
handlers must run during a long statement), the others in one blocking libpq call, so each
behaviour is held on both."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

import psycopg
import pytest
from django.db import DataError, IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import waiting

import durable
from durable import executors
from durable.core.store._execute import _execute_prepared
from durable.models import Executor
from tests.engine.processes import wait_for
from tests.engine.workflows import sum_three
from tests.tiers import examples

T = TypeVar("T")

ECHO = """
-- echo --
SELECT %(text)s::text, %(number)s::bigint, %(real)s::float8, %(moment)s::timestamptz,
       %(document)s::json, %(flag)s::boolean, %(text)s::text || '%%'
"""
SIDE_EFFECT = "INSERT INTO test_side_effect (id, run_id, label) VALUES (%(id)s, %(run_id)s, 'x')"


@pytest.fixture
def on_a_thread(side_effects) -> Iterator[Callable[[Callable[[], T]], T]]:
    """Call a function on one thread that is not the main one, with its own connection."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield lambda function: pool.submit(function).result(timeout=60)
        pool.submit(lambda: connection.close()).result()


@pytest.fixture(params=["main", "another"])
def on_each_thread(request, on_a_thread) -> Callable[[Callable[[], T]], T]:
    """Call a function on the main thread, then (the second parameter) on another one."""
    if request.param == "main":
        return lambda function: function()
    return on_a_thread


@pytest.fixture
def executing_here(on_a_thread):
    """This process's thread executor serving: `durable.run` executes on the calling thread."""
    executor = executors.get_executor()
    wait_for(lambda: Executor.objects.filter(id=executor.executor_id).exists(), 10, "row")
    wait_for(executor._lifeline.holds, 10, "the lifeline")
    return on_a_thread


def _direct_statements(marker: str) -> int:
    """Statements this thread's connection prepared under the direct path's names."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements"
            " WHERE name LIKE 'durable\\_direct\\_%%' AND statement LIKE %s",
            [f"%{marker}%"],
        )
        return cursor.fetchone()[0]


def _through_a_cursor(sql: str, params: dict[str, object]) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _count(run_id: str) -> int:
    rows = _through_a_cursor(
        "SELECT count(*) FROM test_side_effect WHERE run_id = %(run)s", {"run": run_id}
    )
    return rows[0][0]


HOT_STATEMENTS = ("-- insert_run --", "-- record_step --", "-- record_step_and_finish --")


def test_a_run_executed_on_a_callers_thread_writes_through_libpq(executing_here):
    def run_and_look() -> list[int]:
        assert durable.run(sum_three, 1, 2, 3) == 6
        return [_direct_statements(statement) for statement in HOT_STATEMENTS]

    assert executing_here(run_and_look) == [1, 1, 1]


def test_a_run_executed_on_the_main_thread_writes_through_libpq_too(executing_here):
    assert durable.run(sum_three, 1, 2, 3) == 6
    assert [_direct_statements(statement) for statement in HOT_STATEMENTS] == [1, 1, 1]


class Alarm(Exception):
    """What the test's signal handler raises, as a Celery soft time limit does."""


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, Alarm])
def test_on_the_main_thread_a_signal_handler_runs_while_a_statement_waits(side_effects, interrupt):
    """A blocking libpq call would hold back Ctrl-C and signal handlers (a Celery task's soft
    time limit, a worker's SIGTERM) until the statement returns, for as long as it waits on
    a lock or a host that went away. The handler runs at once, the statement is cancelled in
    the server (it does not commit after the caller gave up on it), and the connection goes
    on."""
    _execute_prepared(SIDE_EFFECT, {"id": 7, "run_id": "warm"})  # prepared before the wait
    _execute_prepared("DELETE FROM test_side_effect WHERE id = %(id)s", {"id": 7})
    with connection.cursor() as cursor:  # a blocking call fails the test instead of hanging it
        cursor.execute("SET lock_timeout = '5s'")

    def handler(signum, frame):
        raise interrupt

    previous = signal.signal(signal.SIGALRM, handler)
    blocker = psycopg.connect(**connection.get_connection_params())
    try:
        blocker.execute("INSERT INTO test_side_effect (id, run_id, label) VALUES (7, 'b', 'x')")
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        started = time.monotonic()
        with pytest.raises(interrupt):  # waits on the blocker's uncommitted row with id 7
            _execute_prepared(SIDE_EFFECT, {"id": 7, "run_id": "interrupted"})
        assert time.monotonic() - started < 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        blocker.rollback()
        blocker.close()
    _execute_prepared(SIDE_EFFECT, {"id": 8, "run_id": "after"})
    assert _count("interrupted") == 0 and _count("after") == 1
    connection.close()


def test_where_psycopg_waits_in_python_the_path_waits_with_it(on_a_thread, monkeypatch):
    """Under gevent's monkey-patching psycopg waits in the patched `select`, so other
    greenlets run while a statement waits; one blocking libpq call would stall them all."""
    waits: list[str] = []

    def pure_python_wait(gen, fileno, interval=None, timeout=None):
        waits.append("waited")
        return waiting.wait_select(gen, fileno, interval, timeout)

    monkeypatch.setattr(waiting, "wait", pure_python_wait)  # as psycopg picks it under gevent

    def insert_twice() -> tuple[int, int]:
        _execute_prepared(SIDE_EFFECT, {"id": 9, "run_id": "gevent"})  # a new connection
        waits.clear()
        _execute_prepared(SIDE_EFFECT, {"id": 10, "run_id": "gevent"})
        return len(waits), _direct_statements("test_side_effect")

    assert on_a_thread(insert_twice) == (1, 1)
    assert _count("gevent") == 2


def test_a_connection_set_never_to_prepare_keeps_psycopgs_cursor(executing_here):
    """`DURABLE_PREPARE_THRESHOLD=none` is the setting for a pooler that may hand one
    session's prepared statements to another client: nothing is prepared then."""

    def run_unprepared() -> list[int]:
        connection.ensure_connection()
        connection.connection.prepare_threshold = None
        assert durable.run(sum_three, 1, 2, 3) == 6
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            return [cursor.fetchone()[0]]

    assert executing_here(run_unprepared) == [0]


def test_statements_the_server_dropped_are_prepared_again(executing_here):
    """A DEALLOCATE or DISCARD (a pooler, an operator) leaves the path nothing to execute:
    that run still goes through, and the next ones are direct again."""

    def runs_around_a_deallocate() -> int:
        assert durable.run(sum_three, 1, 2, 3) == 6
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        assert durable.run(sum_three, 4, 5, 6) == 15
        assert durable.run(sum_three, 7, 8, 9) == 24
        return _direct_statements("-- record_step --")

    assert executing_here(runs_around_a_deallocate) == 1


def test_a_refused_statement_raises_djangos_error_and_leaves_the_connection_usable(
    on_each_thread,
):
    def insert_twice() -> psycopg.Error | None:
        _execute_prepared(SIDE_EFFECT, {"id": 1, "run_id": "direct-refused"})
        with pytest.raises(IntegrityError) as refused:
            _execute_prepared(SIDE_EFFECT, {"id": 1, "run_id": "direct-refused"})
        _execute_prepared(SIDE_EFFECT, {"id": 2, "run_id": "direct-refused"})
        assert _direct_statements("test_side_effect") == 1
        return refused.value.__cause__

    cause = on_each_thread(insert_twice)
    assert isinstance(cause, psycopg.errors.UniqueViolation)
    assert cause.diag.table_name == "test_side_effect"
    assert _count("direct-refused") == 2


def test_a_failed_statement_is_sent_once(on_each_thread):
    """Its error is raised from its own result, not found by sending it again: a second
    send could succeed where the first failed (a trigger, a lock timeout), or repeat a
    sequence's step, which no rollback takes back."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE IF NOT EXISTS direct_sends")
        cursor.execute("SELECT setval('direct_sends', 1, false)")

    def divide_by_zero() -> psycopg.Error | None:
        with pytest.raises(DataError) as failed:
            _execute_prepared("SELECT nextval('direct_sends') / %(zero)s", {"zero": 0})
        return failed.value.__cause__

    assert isinstance(on_each_thread(divide_by_zero), psycopg.errors.DivisionByZero)
    assert _through_a_cursor("SELECT last_value FROM direct_sends", {}) == [(1,)]


def test_a_value_psycopg_refuses_raises_djangos_data_error(on_each_thread):
    def insert_a_nul() -> None:
        with pytest.raises(DataError, match="NUL"):
            _execute_prepared(SIDE_EFFECT, {"id": 3, "run_id": "nul\x00byte"})

    on_each_thread(insert_a_nul)


def test_inside_an_atomic_block_a_statement_joins_the_transaction(on_each_thread):
    """A `@durable.transaction` step's checkpoint commits with the step's own writes: the
    direct path never runs a statement outside the caller's transaction."""

    class RolledBack(Exception):
        pass

    def insert_and_roll_back() -> None:
        with pytest.raises(RolledBack), transaction.atomic():
            _execute_prepared(SIDE_EFFECT, {"id": 4, "run_id": "direct-atomic"})
            raise RolledBack

    on_each_thread(insert_and_roll_back)
    assert _count("direct-atomic") == 0


@pytest.mark.parametrize("thread", ["main", "another"])
def test_a_session_the_server_ended_for_idling_is_reopened(on_a_thread, thread):
    """`idle_session_timeout` ends a connection that waited between statements: the next
    statement goes on over a fresh one, as after any lost connection, whichever path the
    thread takes (psycopg's cursor reads the server's 57P05, libpq's call a closed socket)."""

    def idle_past_the_timeout() -> None:
        _execute_prepared(SIDE_EFFECT, {"id": 5, "run_id": thread})  # prepared now
        with connection.cursor() as cursor:
            cursor.execute("SET idle_session_timeout = '100ms'")
        time.sleep(0.5)
        _execute_prepared(SIDE_EFFECT, {"id": 6, "run_id": thread})
        connection.close()

    if thread == "main":
        idle_past_the_timeout()
    else:
        on_a_thread(idle_past_the_timeout)
    assert _count(thread) == 2


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    number=st.integers(-(2**63) + 1, 2**63 - 1),
    real=st.floats(allow_nan=False),
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    document=json_values,
    flag=st.booleans() | st.none(),
)
def test_any_values_come_back_as_psycopgs_cursor_returns_them(
    on_each_thread, text, number, real, moment, document, flag
):
    params = {
        "text": text, "number": number, "real": real, "moment": moment,
        "document": json.dumps(document), "flag": flag,
    }  # fmt: skip

    def both_ways() -> None:
        assert _execute_prepared(ECHO, params) == _through_a_cursor(ECHO, params)
        assert _direct_statements("-- echo --") >= 1  # (one per set of parameter types)

    on_each_thread(both_ways)
