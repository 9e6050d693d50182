"""The statements of a run's hot path (its insert, its checkpoints, its finish) are prepared
once per connection and do no work beyond the run's own rows: docs/performance.md."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

import durable
from durable import operations
from durable.core.store import CLAIM_RUN, FINISH_RUN, RECOVER_ORPHANED, RELEASE_RUNS, SUSPEND_RUN
from durable.core.store._durations import ACTIVE_MS_SQL
from durable.core.store._primitives import WAKE_RECEIVER
from tests.engine.workflows import FLAKY_FAILURES, Boom, fails_at_third_step, retrying, sum_three


def _prepared(marker: str) -> int:
    """Statements prepared on this thread's connection whose text holds `marker`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{marker}%"],
        )
        return cursor.fetchone()[0]


def test_a_start_inserts_its_run_with_a_statement_prepared_once(side_effects):
    """Planning the insert cost the server more than running it: prepared, it is planned
    once per connection, not at every start."""
    first = durable.start(sum_three, 1, 2, 3)
    second = durable.start(sum_three, 4, 5, 6)
    assert (first.result(timeout=10), second.result(timeout=10)) == (6, 15)
    assert _prepared("-- insert_run --") == 1


# A run's active time by its definition (docs/dashboard.md): its successful steps and
# transactions from the fork point on, and the time of its failed attempts
ACTIVE_MS_OF_ROW = (
    """
SELECT r.active_ms, r.steps_done,
    (SELECT coalesce(sum(s.duration_ms), 0) FROM durable_step s
     WHERE s.run_id = r.id AND s.status = 'SUCCESS' AND s.kind IN ('step', 'transaction')
       AND s.position >= coalesce(r.forked_from_step, 0))
  + (SELECT coalesce(sum(extract(epoch FROM a.finished_at - a.started_at) * 1000), 0)
     FROM durable_attempt a WHERE a.run_id = r.id),
    (SELECT count(*) FROM durable_step s WHERE s.run_id = r.id),
    """
    + ACTIVE_MS_SQL.format(run="r")
    + """
FROM durable_run r WHERE r.id = %s
"""
)


def _written_and_summed(run_id: str) -> tuple[tuple[float, int], tuple[float, int]]:
    """(active_ms, steps_done) as the finish wrote them, and as the history sums them now
    (the statements' ACTIVE_MS_SQL agreeing with that sum)."""
    with connection.cursor() as cursor:
        cursor.execute(ACTIVE_MS_OF_ROW, [run_id])
        written_ms, written_steps, summed_ms, counted, statements_ms = cursor.fetchone()
    assert statements_ms == pytest.approx(summed_ms)
    return (written_ms, written_steps), (summed_ms, counted)


def test_the_finish_writes_the_history_totals_every_other_statement_sums(side_effects):
    """The finish reads its run's history through a function (its one partition); what it
    writes is what ACTIVE_MS_SQL and a count of the checkpoints give: failed attempts
    counted, and a fork's inherited checkpoints left out of its active time."""
    FLAKY_FAILURES["totals-retried"] = 1
    assert durable.run(retrying, "totals-retried", run_id="totals-retried") == "ok"
    FLAKY_FAILURES["totals-origin"] = 1
    with pytest.raises(Boom):
        durable.run(fails_at_third_step, "totals-origin", run_id="totals-origin")
    forked = operations.fork("totals-origin", from_step=2)
    assert durable.get(forked).result(timeout=10) == "done"
    for run_id in ("totals-retried", "totals-origin", forked):
        written, summed = _written_and_summed(run_id)
        assert written[1] == summed[1] > 0
        assert written[0] == pytest.approx(summed[0]) and written[0] > 0


@pytest.mark.parametrize(
    ("function", "statement", "call"),
    [
        (
            "durable_run_totals",
            FINISH_RUN,
            "durable_run_totals(durable_run.id, durable_run.created_at",
        ),
        ("durable_run_checkpoints", CLAIM_RUN, "durable_run_checkpoints(c.id, c.created_at)"),
        ("durable_run_attempts_used", CLAIM_RUN, "durable_run_attempts_used(c.id, c.created_at"),
        (
            "durable_run_lost_attempts",
            RECOVER_ORPHANED,
            "durable_run_lost_attempts(r.id, r.created_at",
        ),
        ("durable_run_entry_name", WAKE_RECEIVER, "durable_run_entry_name(r.id, r.created_at"),
        ("durable_run_totals", SUSPEND_RUN, "durable_run_totals(durable_run.id"),
        ("durable_run_totals", RELEASE_RUNS, "durable_run_totals(durable_run.id"),
    ],
)
def test_statements_read_a_runs_history_through_functions_with_generic_plans(
    side_effects, function, statement, call
):
    """The history is read through functions that keep one generic plan: the run's creation
    time is then known before the scans are set up, and every other partition is pruned
    first (inline, every daily partition's scans were set up; a custom plan would be
    planned again at each call)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT proconfig FROM pg_proc WHERE proname = %s", [function])
        assert "plan_cache_mode=force_generic_plan" in cursor.fetchone()[0]
    assert call in statement


HISTORY_FUNCTIONS = [
    "SELECT * FROM durable_run_totals(%(run)s, %(created)s, 0)",
    "SELECT durable_run_checkpoints(%(run)s, %(created)s)",
    "SELECT durable_run_attempts_used(%(run)s, %(created)s, '{}'::jsonb)",
    "SELECT durable_run_lost_attempts(%(run)s, %(created)s, '{}'::jsonb)",
    "SELECT durable_run_entry_name(%(run)s, %(created)s, 4000)",
]


@pytest.mark.parametrize("call", HISTORY_FUNCTIONS)
def test_a_history_function_reads_by_index_even_if_its_plan_was_made_on_empty_tables(
    transactional_db, call
):
    """Their generic plans live as long as the executor's connection: one made while the
    statistics said the history was empty (a fresh database, a vacuum after a purge) must
    not sequentially scan the partition for every run's end once it holds thousands."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE durable_step, durable_attempt")
        cursor.execute("SELECT now()")
        now = cursor.fetchone()[0]
        params = {"run": "history-small", "created": now}
        cursor.execute(call, params)  # the plan is made now, in this session
        cursor.execute(
            "INSERT INTO durable_step (run_id, run_created_at, position, name, kind, status,"
            " input, attempts, error_type, error_fingerprint, started_at, finished_at,"
            " duration_ms)"
            " SELECT 'history-big', %(created)s, g, 'noop', 'step', 'SUCCESS', '{}', 1, '', '',"
            " now(), now(), 0 FROM generate_series(0, 4999) g",
            params,
        )
        cursor.execute(
            "INSERT INTO durable_attempt (run_id, run_created_at, position, attempt, name,"
            " started_at, finished_at, error, error_type, error_fingerprint, final)"
            " SELECT 'history-big', %(created)s, g, 1, 'noop', now(), now(), '{}', 'E', '',"
            " false FROM generate_series(0, 4999) g",
            params,
        )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(call, params)
        cursor.execute(
            "SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_xact_user_tables"
            " WHERE relname LIKE 'durable_step_p%%' OR relname LIKE 'durable_attempt_p%%'"
        )
        assert cursor.fetchone()[0] == 0


def test_a_runs_insert_and_status_changes_write_no_index_for_prefix_searches(side_effects):
    """Every index of the run row costs every insert and every status change an entry;
    run ids are only ever looked up exactly, by the primary key (migration 0040)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_opclass o"
            " ON o.oid = ANY(i.indclass) WHERE i.indrelid = 'durable_run'::regclass"
            " AND o.opcname LIKE %s",
            ["%pattern_ops"],
        )
        assert cursor.fetchall() == []
