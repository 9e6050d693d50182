"""A checkpoint at a position that already holds one is refused like a lost run (None), not
raised: the statement has no ON CONFLICT (on the partitioned table its arbiter costs about
a fifth of the statement, docs/performance.md), so the store reads the unique violation."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

import durable
from durable.core import _runtime as runtime
from durable.core import store
from durable.models import Run, RunStatus, Step
from tests.engine.workflows import note

OWNER = "thread:same-owner"


@durable.workflow(name="tests.conflict.one_step")
def one_step(run_id: str) -> str:
    return note(run_id, "ran")


def _owned_run_with_step_zero(run_id: str) -> Run:
    """A run this executor owns whose position 0 already holds a checkpoint (written by a
    thread of an earlier ownership, or by another owner in between)."""
    now = timezone.now()
    run = Run.objects.create(
        id=run_id, workflow="tests.conflict.one_step", status=RunStatus.RUNNING,
        input={"args": [run_id]}, executor_id=OWNER, started_at=now,
        lease_expires_at=now + timedelta(seconds=30),
    )  # fmt: skip
    Step.objects.create(
        run=run, position=0, name="earlier", kind="step", status="SUCCESS", output="earlier",
        started_at=now, finished_at=now, run_created_at=run.created_at,
    )  # fmt: skip
    return run


def _checkpoint_at_zero(run_id: str) -> str | None:
    now = timezone.now()
    return store.record_step(
        run_id=run_id, executor_id=OWNER, position=0, name="later", kind="step",
        status="SUCCESS", input="[]", attempts=1, started_at=now, finished_at=now,
        duration_ms=0.1, output='"later"',
    )  # fmt: skip


def test_a_checkpoint_at_a_recorded_position_is_refused_and_keeps_the_first(transactional_db):
    _owned_run_with_step_zero("conflict-auto")
    assert _checkpoint_at_zero("conflict-auto") is None
    step = Step.objects.get(run_id="conflict-auto", position=0)
    assert (step.name, step.output) == ("earlier", "earlier")
    assert Run.objects.get(id="conflict-auto").status == RunStatus.RUNNING  # usable after


class Stop(Exception):
    pass


def test_a_refused_checkpoint_in_a_transaction_step_rolls_back_with_it(transactional_db):
    _owned_run_with_step_zero("conflict-atomic")
    with pytest.raises(Stop), transaction.atomic():
        Run.objects.filter(id="conflict-atomic").update(tags={"effect": 1})
        assert _checkpoint_at_zero("conflict-atomic") is None
        raise Stop  # what the engine does: RunInterrupted leaves the transaction
    assert not connection.needs_rollback
    assert Run.objects.get(id="conflict-atomic").tags == {}


def test_a_stale_thread_at_a_recorded_position_stops_without_giving_the_run_back(
    side_effects,
):
    run = _owned_run_with_step_zero("conflict-engine")
    claimed = store.ClaimedRun(run.id, run.workflow, run.version, run.input, None, {}, {}, 0)
    runtime.execute(claimed, OWNER, threading.Event())
    run.refresh_from_db()
    assert (run.status, run.executor_id, run.recovery_count) == (RunStatus.RUNNING, OWNER, 0)
    assert Step.objects.get(run_id="conflict-engine", position=0).name == "earlier"
