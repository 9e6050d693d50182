"""An executor that lost a run (paused past its lease, another executor took it) changes
nothing about it: every write that changes a run checks its owner."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
from django.db import connection
from django.utils import timezone

import durable
from durable.core import _runtime as runtime
from durable.core import store
from durable.models import Attempt, Run, RunStatus
from tests.engine.workflows import note


@durable.workflow(name="tests.owner.timed")
def timed(run_id: str) -> str:
    return note(run_id, "ran")


@durable.step(name="tests.owner.fails")
def fails() -> None:
    raise ValueError("stale attempt")


@durable.workflow(name="tests.owner.failing")
def failing() -> None:
    fails()


def _taken_over(run_id: str, workflow: str, **fields) -> Run:
    """A run the stale executor once claimed, now RUNNING under another executor."""
    return Run.objects.create(
        id=run_id, workflow=workflow, status=RunStatus.RUNNING, input={"args": [run_id]},
        executor_id="thread:new-owner", lease_expires_at=timezone.now() + timedelta(seconds=30),
        started_at=timezone.now(), **fields,
    )  # fmt: skip


def _execute_as_stale_owner(run: Run, deadline_at: datetime | None = None) -> None:
    claimed = store.ClaimedRun(
        run.id, run.workflow, run.version, run.input, deadline_at or run.deadline_at, {}, {}, 0
    )
    runtime.execute(claimed, "thread:stale-owner", threading.Event())


def test_a_stale_owner_past_the_deadline_does_not_cancel_the_new_owners_run(side_effects):
    run = _taken_over("own-timeout", "tests.owner.timed")
    child = Run.objects.create(
        id="own-timeout-child", workflow="tests.owner.timed", status=RunStatus.ENQUEUED,
        input={"args": []}, parent=run,
    )  # fmt: skip
    _execute_as_stale_owner(run, deadline_at=datetime.now(UTC) - timedelta(seconds=1))
    run.refresh_from_db()
    assert (run.status, run.executor_id) == (RunStatus.RUNNING, "thread:new-owner")
    assert Run.objects.get(id=child.id).status == RunStatus.ENQUEUED
    assert side_effects("own-timeout") == {}


def test_a_stale_owner_records_no_failed_attempt_on_the_new_owners_run(transactional_db):
    run = _taken_over("own-attempt", "tests.owner.failing")
    run.input = {"args": []}
    _execute_as_stale_owner(run)
    run.refresh_from_db()
    assert (run.status, run.executor_id) == (RunStatus.RUNNING, "thread:new-owner")
    assert not Attempt.objects.filter(run_id="own-attempt").exists()


@durable.workflow(name="tests.owner.sleeps")
def sleeps() -> str:
    durable.sleep(3600)
    return "woke"


@durable.workflow(name="tests.owner.quick")
def quick() -> str:
    return "done"


def test_a_stale_owner_neither_parks_nor_finishes_the_new_owners_run(transactional_db):
    """Already guarded before this change (suspend_run and finish_run check the owner)."""
    for run_id, workflow in (("own-park", "tests.owner.sleeps"), ("own-end", "tests.owner.quick")):
        run = _taken_over(run_id, workflow)
        run.input = {"args": []}
        _execute_as_stale_owner(run)
        run.refresh_from_db()
        assert (run.status, run.executor_id, run.output) == (
            RunStatus.RUNNING, "thread:new-owner", None
        )  # fmt: skip


def test_a_failed_attempt_written_during_a_takeover_waits_for_it_and_is_then_refused(
    transactional_db,
):
    """A recovery or a cancel (an UPDATE of the run) that has not committed yet: the stale
    owner's failed attempt waits for it, as a checkpoint does, and then finds the run is no
    longer its own, instead of committing into the new owner's history from the snapshot it
    read before the takeover."""
    run = _taken_over("own-attempt-race", "tests.owner.failing")
    Run.objects.filter(id=run.id).update(executor_id="thread:stale-owner")
    taking_over = psycopg.connect(**connection.get_connection_params())
    outcome: dict[str, object] = {}

    def record_stale_attempt() -> None:
        try:
            outcome["written"] = store.record_attempt(
                run_id=run.id, executor_id="thread:stale-owner", position=1, attempt=1,
                name="tests.owner.fails", error='{"type": "ValueError"}', error_type="ValueError",
                started_at=timezone.now(), finished_at=timezone.now(),
            )  # fmt: skip
        finally:
            connection.close()

    try:
        taking_over.execute(
            "UPDATE durable_run SET executor_id = 'thread:new-owner' WHERE id = %s", [run.id]
        )
        stale = threading.Thread(target=record_stale_attempt)
        stale.start()
        stale.join(timeout=1.0)
        waited = stale.is_alive()
        taking_over.commit()
        stale.join(timeout=10)
    finally:
        taking_over.close()
    assert waited, "the attempt did not wait for the takeover in flight"
    assert outcome == {"written": False}
    assert not Attempt.objects.filter(run_id=run.id).exists()
