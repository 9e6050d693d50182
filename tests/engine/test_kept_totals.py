"""A run's end writes its history's totals (`steps_done`, `active_ms`) without reading the
history back when its execution wrote all of it (`HistoryTally`, docs/performance.md): what
it writes is what the history sums, whichever way the run went; and the end of such a run
never calls `durable_run_totals`."""

from __future__ import annotations

import contextlib
import time

import psycopg
import pytest
from django.db import connection, transaction

import durable
from durable import operations
from durable.core import store
from durable.core.store import FINISH_RUN, _execute
from durable.core.store import _steps as store_steps
from durable.core.store._step_and_finish import RECORD_STEP_AND_FINISH
from durable.models import Attempt
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
from tests.lost_replies import lose_the_reply_of


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


@durable.workflow(name="tests.kept_totals.messages_and_events")
def messages_and_events(run_id: str) -> str:
    """A message sent to itself and received, an event set, each recorded atomically."""
    note(run_id, "before")
    durable.send(durable.current().run_id, "to myself", topic="self")
    durable.set_event("seen", durable.recv("self", timeout=5))
    return note(run_id, "after")


@durable.workflow(name="tests.kept_totals.event_in_a_transaction")
def event_in_a_transaction(run_id: str) -> str:
    """An event set inside the workflow's own transaction, which rolls back."""
    note(run_id, "before")
    with contextlib.suppress(Boom), transaction.atomic():
        durable.set_event("rolled back", 1)
        raise Boom("the workflow's own transaction rolls back")
    durable.set_event("kept", 2)
    return note(run_id, "after")


def _ran(run_id: str, workflow, *args) -> None:
    with contextlib.suppress(Boom):  # a failed run ends too, with the same totals
        durable.run(workflow, *args, run_id=run_id)


# label: (whether the execution keeps the totals, the workflow, its arguments)
RUNS = {
    "plain steps, the last written with the end": (True, sum_three, 1, 2, 3),
    "a failed attempt, then its retry succeeded": (True, retrying, "kept-retried"),
    "the last step failed once, then ended the run": (True, last_step_fails_once, "kept-last"),
    "a step failed for good: the run ended ERROR": (True, fails_at_third_step, "kept-failed"),
    "async steps, some at once": (True, async_workflows.pipeline, "kept-async"),
    "an async step failed once": (True, async_workflows.retrying, "kept-async-retried"),
    "transaction steps: summed": (False, crash_ledger, "kept-txn", 2, 0.0),
    "plain steps in the workflow's own transactions, one rolled back": (
        False,
        steps_in_a_transaction,
        "kept-in-txn",
    ),
    "stream entries, recorded atomically": (True, stream_ledger, "kept-stream", 2, 0.0),
    "a child, recorded atomically, and a sleep": (True, with_child, "kept-child"),
    "a message sent and received, an event set": (True, messages_and_events, "kept-messages"),
    "async: a child started and awaited, an event set": (
        True,
        async_workflows.parent,
        "kept-async-parent",
    ),
    "an event set in the workflow's own transaction, rolled back: summed": (
        False,
        event_in_a_transaction,
        "kept-event-in-txn",
    ),
}


@pytest.fixture
def totals_given(monkeypatch):
    """The `steps_done` each run's end was given, by run id (None: the end summed them)."""
    given: dict[str, int | None] = {}
    for name in ("finish_run", "record_step_and_finish"):
        real = getattr(store, name)

        def spy(*args, real=real, **kwargs):
            given[kwargs["run_id"]] = kwargs.get("steps_done")
            return real(*args, **kwargs)

        monkeypatch.setattr(store, name, spy)
    return given


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_the_totals_a_run_ends_with_are_what_its_history_sums(side_effects, totals_given, run):
    kept, workflow, *args = run
    FLAKY_FAILURES.update({"kept-retried": 1, "kept-last": 1, "kept-failed": 1, "kept-in-txn": 1})
    async_workflows.FAILURES["kept-async-retried"] = 1
    run_id = f"kept-{workflow.__module__}.{workflow.__name__}"
    _ran(run_id, workflow, *args)
    assert (totals_given[run_id] is not None) is kept
    written, summed = _written_and_summed(run_id)
    assert written[1] == summed[1] > 0
    assert written[0] == pytest.approx(summed[0], abs=1e-6)


def test_an_attempt_whose_reply_was_lost_is_written_and_counted_once(
    side_effects, totals_given, monkeypatch
):
    """Its retry finds the row committed (a second one would count its time twice)."""
    lost = lose_the_reply_of(monkeypatch, "-- record_attempt --")
    FLAKY_FAILURES["kept-lost-reply"] = 1
    assert durable.run(retrying, "kept-lost-reply", run_id="kept-lost-reply") == "ok"
    connection.close()
    assert lost and totals_given["kept-lost-reply"] is not None
    assert Attempt.objects.filter(run_id="kept-lost-reply").count() == 1
    written, summed = _written_and_summed("kept-lost-reply")
    assert written[1] == summed[1]
    assert written[0] == pytest.approx(summed[0], abs=1e-6)


def _lose_this_connection() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def test_an_entry_whose_commit_reply_was_lost_leaves_the_end_to_sum_the_history(
    side_effects, totals_given, monkeypatch
):
    """A primitive's transaction committed, then its connection dropped: the retry finds the
    entry and replays it, and the end sums the history instead of trusting a count."""
    real, lost = store.record_step, []

    def commit_then_lose_reply(**params):
        if params["kind"] == "send" and not lost:
            lost.append(params["position"])
            transaction.on_commit(_lose_this_connection)
        return real(**params)

    monkeypatch.setattr(store, "record_step", commit_then_lose_reply)
    run_id = "kept-lost-entry"
    assert durable.run(messages_and_events, run_id, run_id=run_id) == "after"
    connection.close()
    assert lost and totals_given[run_id] is None
    written, summed = _written_and_summed(run_id)
    assert written[1] == summed[1] == 5
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


OUTAGE: dict = {"until": None, "caught": []}


@durable.step(name="tests.kept_totals.breaks")
def breaks(run_id: str) -> None:
    raise RuntimeError("the step's own failure")


@durable.workflow(name="tests.kept_totals.catches_everything")
def catches_everything(run_id: str) -> str:
    try:
        breaks(run_id)
    except Exception as exc:  # noqa: BLE001 - what a workflow's fallback may well do
        OUTAGE["caught"].append(type(exc).__name__)
    return note(run_id, "after")


def test_an_attempt_that_cannot_be_recorded_within_the_budget_releases_the_run(
    side_effects, settings, monkeypatch
):
    """Not an error the workflow's `except Exception` can take for the step's failure and go
    on from, ending with totals that miss the attempt a lost reply may have committed: the
    run is released, and runs again from its history once the database answers."""
    OUTAGE.update(until=None, caught=[])
    settings.DURABLE_DB_RETRY_SECONDS = 0.3
    real_prepared, real_once = _execute._prepared_once, store_steps._execute_once

    def down() -> bool:
        return OUTAGE["until"] is not None and time.monotonic() < OUTAGE["until"]

    def committed_then_down(sql, params):
        if "-- record_attempt --" in sql and OUTAGE["until"] is None:
            OUTAGE["until"] = time.monotonic() + 1.0  # past the budget, then back
            real_prepared(sql, params)
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        if down() and "-- record_attempt --" in sql:
            raise psycopg.OperationalError("connection refused")
        return real_prepared(sql, params)

    def read_back_down_too(sql, params):
        if down() and "-- attempt_written_by --" in sql:
            raise psycopg.OperationalError("connection refused")
        return real_once(sql, params)

    monkeypatch.setattr(_execute, "_prepared_once", committed_then_down)
    monkeypatch.setattr(store_steps, "_execute_once", read_back_down_too)
    assert durable.run(catches_everything, "kept-budget", run_id="kept-budget") == "after"
    assert OUTAGE["caught"] == ["RuntimeError"]  # the step's failure, once, after the release
    written, summed = _written_and_summed("kept-budget")
    assert written[1] == summed[1]
    assert written[0] == pytest.approx(summed[0], abs=1e-6)
