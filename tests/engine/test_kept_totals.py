"""A run's end writes its history's totals (`steps_done`, `active_ms`) without reading the
history back when its execution wrote all of it (`HistoryTally`, docs/performance.md): what
it writes is what the history sums, whichever way the run went; and the end of such a run
never calls `durable_run_totals`."""

from __future__ import annotations

import contextlib

import pytest
from django.db import connection, transaction

import durable
from durable import operations
from durable.core.store import FINISH_RUN
from durable.core.store._step_and_finish import RECORD_STEP_AND_FINISH
from tests.engine import async_workflows
from tests.engine.test_hot_path_statements import _written_and_summed
from tests.engine.workflows import (
    FLAKY_FAILURES,
    Boom,
    child,
    crash_ledger,
    fails_at_third_step,
    flaky,
    note,
    retrying,
    stream_ledger,
    sum_three,
)


@durable.workflow(name="tests.kept_totals.last_step_fails_once")
def last_step_fails_once(run_id: str) -> str:
    """Its last step (written with the run's end) failed once before it returned."""
    note(run_id, "first")
    return flaky(run_id)


@durable.workflow(name="tests.kept_totals.with_child")
def with_child(run_id: str) -> str:
    """A step, a child started and awaited, a short in-thread sleep, then a step."""
    note(run_id, "before")
    handle = durable.start(child, f"{run_id}-child")
    durable.sleep(0.01)
    note(run_id, "after")
    return handle.result(timeout=30)


@durable.workflow(name="tests.kept_totals.steps_in_a_transaction")
def steps_in_a_transaction(run_id: str) -> str:
    """Plain steps inside the workflow's own transactions: their checkpoints and attempts
    commit with the first, and roll back with the second."""
    with transaction.atomic():
        note(run_id, "inside")
        flaky(run_id)
    with contextlib.suppress(Boom), transaction.atomic():
        note(run_id, "rolled back")
        raise Boom("the workflow's own transaction rolls back")
    return note(run_id, "after")


def _ran(run_id: str, workflow, *args) -> None:
    with contextlib.suppress(Boom):  # a failed run ends too, with the same totals
        durable.run(workflow, *args, run_id=run_id)


RUNS = {
    "plain steps, the last written with the end": (sum_three, 1, 2, 3),
    "a failed attempt, then its retry succeeded": (retrying, "kept-retried"),
    "the last step failed once, then ended the run": (last_step_fails_once, "kept-last"),
    "a step failed for good: the run ended ERROR": (fails_at_third_step, "kept-failed"),
    "transaction steps: summed, not kept": (crash_ledger, "kept-txn", 2, 0.0),
    "plain steps in the workflow's own transactions, one rolled back": (
        steps_in_a_transaction,
        "kept-in-txn",
    ),
    "stream entries between steps": (stream_ledger, "kept-stream", 2, 0.0),
    "a child, a sleep": (with_child, "kept-child"),
    "async steps, some at once": (async_workflows.pipeline, "kept-async"),
    "an async step failed once": (async_workflows.retrying, "kept-async-retried"),
}


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_the_totals_a_run_ends_with_are_what_its_history_sums(side_effects, run):
    workflow, *args = run
    FLAKY_FAILURES.update({"kept-retried": 1, "kept-last": 1, "kept-failed": 1, "kept-in-txn": 1})
    async_workflows.FAILURES["kept-async-retried"] = 1
    run_id = f"kept-{workflow.__module__}.{workflow.__name__}"
    _ran(run_id, workflow, *args)
    written, summed = _written_and_summed(run_id)
    assert written[1] == summed[1] > 0
    assert written[0] == pytest.approx(summed[0], abs=1e-6)


def test_a_resumed_or_forked_run_ends_with_the_totals_its_whole_history_sums(side_effects):
    """Claimed with history already written, the execution cannot know the totals alone."""
    FLAKY_FAILURES["kept-origin"] = 1
    with pytest.raises(Boom):
        durable.run(fails_at_third_step, "kept-origin", run_id="kept-origin")
    forked = operations.fork("kept-origin", from_step=2)
    assert durable.get(forked).result(timeout=10) == "done"
    from_start = operations.fork("kept-origin", from_step=0)
    assert durable.get(from_start).result(timeout=10) == "done"
    FLAKY_FAILURES["kept-resumed"] = 1
    with pytest.raises(Boom):
        durable.run(fails_at_third_step, "kept-resumed", run_id="kept-resumed")
    operations.resume("kept-resumed")
    assert durable.get("kept-resumed").result(timeout=10) == "done"
    for run_id in (forked, from_start, "kept-resumed"):
        written, summed = _written_and_summed(run_id)
        assert written[1] == summed[1] > 0
        assert written[0] == pytest.approx(summed[0], abs=1e-6)


def _totals_function_runs(statement: str, params: dict) -> list[str]:
    """The plan lines of `durable_run_totals`' scan in `statement`, run on a RUNNING run of
    ours in a transaction rolled back."""
    run_id = "kept-explained"
    durable.run(sum_three, 1, 2, 3, run_id=run_id)
    params = {
        "run_id": run_id, "executor_id": "kept-executor", "status": "SUCCESS",
        "output": "6", "error": None, "error_type": "", "error_fingerprint": "",
        "cancel_reason": "", "position": 99, "name": "tests.add", "kind": "step",
        "input": None, "input_hash": "", "attempts": 1, "started_at": "2026-01-01T00:00Z",
        "finished_at": "2026-01-01T00:00Z", "duration_ms": 1.0, "cpu_ms": 0.0,
        "run_output": "6", **params,
    }  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE durable_run SET status = 'RUNNING', executor_id = 'kept-executor' "
            "WHERE id = %s",
            [run_id],
        )
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement, params)
        plan = [line for (line,) in cursor.fetchall()]
        transaction.set_rollback(True)
    return [line for line in plan if "durable_run_totals" in line]


@pytest.mark.parametrize(
    "statement", [FINISH_RUN, RECORD_STEP_AND_FINISH], ids=["finish", "last step and finish"]
)
def test_an_end_with_the_totals_kept_never_reads_the_history(side_effects, statement):
    [kept] = _totals_function_runs(statement, {"steps_done": 3, "active_ms": 1.5})
    assert "never executed" in kept
    [summed] = _totals_function_runs(statement, {"steps_done": None, "active_ms": None})
    assert "never executed" not in summed and "rows=1" in summed
