"""The hot path's statements go straight through libpq in autocommit (store._direct): same
rows, same errors and the same transactions as psycopg's own cursor gives them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest
from django.db import DataError, IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import durable
from durable import executors
from durable.core.store._execute import _execute_prepared
from durable.models import Executor
from tests.engine.processes import wait_for
from tests.engine.workflows import sum_three
from tests.tiers import examples

ECHO = """
-- echo --
SELECT %(text)s::text, %(number)s::bigint, %(real)s::float8, %(moment)s::timestamptz,
       %(document)s::json, %(flag)s::boolean, %(text)s::text || '%%'
"""
SIDE_EFFECT = "INSERT INTO test_side_effect (id, run_id, label) VALUES (%(id)s, %(run_id)s, 'x')"


def _direct_statements(marker: str) -> int:
    """Statements this thread's connection prepared under the direct path's names."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements"
            " WHERE name LIKE 'durable\\_%%' AND statement LIKE %s",
            [f"%{marker}%"],
        )
        return cursor.fetchone()[0]


def _through_a_cursor(sql: str, params: dict[str, object]) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.fixture
def executing_here(side_effects):
    """This process's thread executor serving: `durable.run` executes on the calling thread."""
    executor = executors.get_executor()
    wait_for(lambda: Executor.objects.filter(id=executor.executor_id).exists(), 10, "row")
    wait_for(executor._lifeline.holds, 10, "the lifeline")


def test_a_run_executed_here_writes_its_insert_checkpoints_and_finish_directly(executing_here):
    assert durable.run(sum_three, 1, 2, 3) == 6
    for statement in ("-- insert_run --", "-- record_step --", "-- record_step_and_finish --"):
        assert _direct_statements(statement) == 1, statement


def test_statements_the_server_dropped_are_prepared_again(executing_here):
    """A DEALLOCATE or DISCARD (a pooler, an operator) leaves the path nothing to execute:
    that run still goes through, and the next ones are direct again."""
    assert durable.run(sum_three, 1, 2, 3) == 6
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert durable.run(sum_three, 4, 5, 6) == 15
    assert durable.run(sum_three, 7, 8, 9) == 24
    assert _direct_statements("-- record_step --") == 1


def test_a_refused_statement_raises_djangos_error_and_leaves_the_connection_usable(
    side_effects,
):
    _execute_prepared(SIDE_EFFECT, {"id": 1, "run_id": "direct-refused"})
    with pytest.raises(IntegrityError) as refused:
        _execute_prepared(SIDE_EFFECT, {"id": 1, "run_id": "direct-refused"})
    assert isinstance(refused.value.__cause__, psycopg.errors.UniqueViolation)
    _execute_prepared(SIDE_EFFECT, {"id": 2, "run_id": "direct-refused"})
    assert _through_a_cursor(
        "SELECT count(*) FROM test_side_effect WHERE run_id = %(run)s", {"run": "direct-refused"}
    ) == [(2,)]


def test_a_failed_statement_is_sent_once(side_effects):
    """Its error is raised from its own result, not found by sending it again: a second
    send could succeed where the first failed (a trigger, a lock timeout), or repeat a
    sequence's step, which no rollback takes back."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE IF NOT EXISTS direct_sends")
        cursor.execute("SELECT setval('direct_sends', 1, false)")
    with pytest.raises(DataError) as failed:
        _execute_prepared("SELECT nextval('direct_sends') / %(zero)s", {"zero": 0})
    assert isinstance(failed.value.__cause__, psycopg.errors.DivisionByZero)
    assert _through_a_cursor("SELECT last_value FROM direct_sends", {}) == [(1,)]


def test_a_value_psycopg_refuses_raises_djangos_data_error(side_effects):
    with pytest.raises(DataError, match="NUL"):
        _execute_prepared(SIDE_EFFECT, {"id": 3, "run_id": "nul\x00byte"})


def test_inside_an_atomic_block_a_statement_joins_the_transaction(side_effects):
    """A `@durable.transaction` step's checkpoint commits with the step's own writes: the
    direct path never runs a statement outside the caller's transaction."""

    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic():
        _execute_prepared(SIDE_EFFECT, {"id": 4, "run_id": "direct-atomic"})
        raise RolledBack
    assert _through_a_cursor(
        "SELECT count(*) FROM test_side_effect WHERE run_id = %(run)s", {"run": "direct-atomic"}
    ) == [(0,)]


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
    side_effects, text, number, real, moment, document, flag
):
    params = {
        "text": text, "number": number, "real": real, "moment": moment,
        "document": json.dumps(document), "flag": flag,
    }  # fmt: skip
    assert _execute_prepared(ECHO, params) == _through_a_cursor(ECHO, params)
    assert _direct_statements("-- echo --") >= 1  # (one per set of parameter types)
