"""Cancel means stop: when `operations.cancel` returns, no further step of the run starts.

The cancel lands in the workflow's plain code between two steps (the run's thread is held
at a gate there), and the gate opens the moment the cancel returns: the next step must not
start, however quickly the thread reaches it. Each case runs many times, since a race shows
itself only now and then; the machine is loaded on purpose by other engineers' tests.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

import durable
from durable import operations
from durable.core import store
from durable.models import Run, RunStatus, Step
from tests.conftest import record_side_effect
from tests.engine.processes import wait_for
from tests.engine.test_celery_inprocess import memory_worker  # noqa: F401 - a fixture
from tests.engine.workflows import note

ROUNDS = 20
_gates: dict[str, tuple[threading.Event, threading.Event]] = {}  # run -> (reached, open)
_ended: dict[str, threading.Event] = {}  # run -> set when its body returns or raises


def _gate(run_id: str) -> tuple[threading.Event, threading.Event]:
    return _gates.setdefault(run_id, (threading.Event(), threading.Event()))


def _end(run_id: str) -> threading.Event:
    return _ended.setdefault(run_id, threading.Event())


@durable.workflow(name="tests.cancel_boundary.gated")
def gated(run_id: str) -> str:
    try:
        note(run_id, "before")
        reached, opened = _gate(run_id)
        reached.set()
        opened.wait(20)  # plain code between two steps: the cancel arrives here
        note(run_id, "after")
        return "done"
    finally:
        _end(run_id).set()


@durable.step()
def numbered(run_id: str, position: int) -> int:
    record_side_effect(run_id, f"step-{position}")
    return position


@durable.workflow(name="tests.cancel_boundary.many_steps")
def many_steps(run_id: str, count: int) -> int:
    try:
        for position in range(count):
            numbered(run_id, position)
        return count
    finally:
        _end(run_id).set()


def _cancel_at_the_gate(run_id: str, side_effects) -> None:
    reached, opened = _gate(run_id)
    durable.start(gated, run_id, run_id=run_id)
    assert reached.wait(20), "the run never reached its gate"
    operations.cancel(run_id)
    opened.set()  # the thread runs on at once; the cancel has returned
    assert _end(run_id).wait(10), f"{run_id}'s body never ended"
    assert side_effects(run_id) == {"before": 1}, f"a step started after cancel({run_id!r})"
    assert Run.objects.get(id=run_id).status == RunStatus.CANCELLED


@pytest.mark.slow
def test_no_step_starts_after_cancel_returns_twenty_times_out_of_twenty(side_effects):
    for round_number in range(ROUNDS):
        _cancel_at_the_gate(f"gate-{round_number}", side_effects)


@pytest.mark.slow
@pytest.mark.usefixtures("memory_worker")
def test_no_step_starts_on_a_celery_worker_after_cancel_returns(side_effects):
    for round_number in range(ROUNDS):
        _cancel_at_the_gate(f"gate-celery-{round_number}", side_effects)


@pytest.mark.slow
def test_a_bulk_cancel_stops_every_run_before_its_next_step(side_effects):
    for round_number in range(ROUNDS // 4):
        run_ids = [f"bulk-gate-{round_number}-{n}" for n in range(3)]
        for run_id in run_ids:
            durable.start(gated, run_id, run_id=run_id)
        for run_id in run_ids:
            assert _gate(run_id)[0].wait(20), "a run never reached its gate"
        result = operations.cancel(run_ids)
        assert sorted(result.done) == sorted(run_ids) and not result.unconfirmed
        for run_id in run_ids:
            _gate(run_id)[1].set()
        assert all(_end(run_id).wait(10) for run_id in run_ids), "a body never ended"
        for run_id in run_ids:
            assert side_effects(run_id) == {"before": 1}, f"a step of {run_id} started after"


@pytest.mark.slow
def test_a_run_of_many_short_steps_starts_none_after_cancel_returns(side_effects):
    """Cancelled from another thread while steps follow each other: at most the step in
    flight when the cancel returned ends afterwards, and it keeps its checkpoint."""
    for round_number in range(ROUNDS):
        run_id = f"many-{round_number}"
        durable.start(many_steps, run_id, 500, run_id=run_id)
        wait_for(lambda run_id=run_id: len(side_effects(run_id)) >= 5, 20, "a few steps")
        canceller = threading.Thread(target=operations.cancel, args=(run_id,))
        canceller.start()
        canceller.join(20)
        started_before = len(side_effects(run_id))
        assert _end(run_id).wait(10), f"{run_id}'s body never ended"
        started = len(side_effects(run_id))
        assert started <= started_before + 1, f"{started - started_before} steps started after"
        checkpoints = Step.objects.filter(run_id=run_id).count()
        assert checkpoints == started, "the step in flight at the cancel lost its checkpoint"


def test_cancel_says_when_the_owning_executor_did_not_confirm(transactional_db, settings):
    """A run whose owner (a live-looking executor that never answers) cannot confirm the
    stop: the cancel happens, within the bound, and its result says it is not confirmed."""
    settings.DURABLE_CANCEL_CONFIRM_SECONDS = 0.5
    store.heartbeat(executor_id="thread:silent", kind="thread", hostname="h", pid=1, workflows=[])
    Run.objects.create(
        id="silent-owner", workflow="tests.cancel_boundary.gated", status=RunStatus.RUNNING,
        input={"args": []}, executor_id="thread:silent", started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )  # fmt: skip
    started = time.monotonic()
    result = operations.cancel(["silent-owner"])
    assert time.monotonic() - started < 5
    assert result.done == {"silent-owner": "silent-owner"}
    assert "thread:silent" in result.unconfirmed["silent-owner"]
    assert Run.objects.get(id="silent-owner").status == RunStatus.CANCELLED
