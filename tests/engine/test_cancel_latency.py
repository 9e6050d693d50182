"""Cancel reaches a running run at once: it stops before its next step starts."""

from __future__ import annotations

import time

import pytest

import durable
from durable import operations
from durable.models import Run, RunStatus, Step
from tests.conftest import record_side_effect
from tests.engine.processes import wait_for
from tests.engine.test_celery_inprocess import memory_worker  # noqa: F401 - a fixture
from tests.engine.workflows import note


@durable.step()
def slow_note(run_id: str, label: str, seconds: float) -> str:
    record_side_effect(run_id, label)
    time.sleep(seconds)
    return label


@durable.transaction()
def slow_effect(run_id: str, seconds: float) -> str:
    record_side_effect(run_id, "effect")
    time.sleep(seconds)
    return "committed"


@durable.workflow(name="tests.cancel.in_transaction")
def cancelled_in_transaction(run_id: str) -> str:
    slow_effect(run_id, 0.6)
    note(run_id, "after")
    return "done"


@durable.workflow(name="tests.cancel.pausing")
def pausing(run_id: str, pause: float) -> str:
    note(run_id, "first")
    time.sleep(pause)  # plain code between two steps: the cancel arrives here
    note(run_id, "second")
    return "done"


@durable.workflow(name="tests.cancel.in_step")
def cancelled_in_step(run_id: str) -> str:
    slow_note(run_id, "slow", 0.6)
    note(run_id, "after")
    return "done"


def test_a_cancel_between_steps_stops_the_run_before_its_next_step_body(side_effects):
    durable.start(pausing, "cancel-gap", 1.0, run_id="cancel-gap")
    wait_for(lambda: Step.objects.filter(run_id="cancel-gap").exists(), 10, "the first step")
    operations.cancel("cancel-gap")
    time.sleep(1.5)  # the pause ends; the next step would have started by now
    assert side_effects("cancel-gap") == {"first": 1}
    assert Run.objects.get(id="cancel-gap").status == RunStatus.CANCELLED


@pytest.mark.slow
def test_the_executing_thread_learns_of_a_cancel_well_under_a_second(side_effects):
    from durable import executors

    executor = executors.get_executor()
    durable.start(pausing, "cancel-fast", 5.0, run_id="cancel-fast")
    wait_for(lambda: Step.objects.filter(run_id="cancel-fast").exists(), 10, "the first step")
    event = executor._in_flight.get("cancel-fast")
    assert event is not None and not event.is_set()
    cancelled_at = time.monotonic()
    operations.cancel("cancel-fast")
    assert event.wait(1.0)
    assert time.monotonic() - cancelled_at < 0.8


def test_a_step_running_when_its_run_is_cancelled_keeps_its_checkpoint(side_effects):
    durable.start(cancelled_in_step, "cancel-step", run_id="cancel-step")
    wait_for(lambda: side_effects("cancel-step"), 10, "the slow step to start")
    operations.cancel("cancel-step")
    wait_for(
        lambda: Step.objects.filter(run_id="cancel-step", position=0).exists(),
        5,
        "the slow step's checkpoint",
    )
    time.sleep(0.3)
    assert side_effects("cancel-step") == {"slow": 1}
    operations.resume("cancel-step")
    assert durable.get("cancel-step").result(timeout=10) == "done"
    assert side_effects("cancel-step") == {"slow": 1, "after": 1}


def test_a_transaction_running_when_its_run_is_cancelled_commits_once(side_effects):
    durable.start(cancelled_in_transaction, "cancel-txn", run_id="cancel-txn")
    wait_for(lambda: Run.objects.filter(id="cancel-txn", status="RUNNING").exists(), 10, "the run")
    time.sleep(0.2)  # inside the transaction step now
    operations.cancel("cancel-txn")
    wait_for(
        lambda: Step.objects.filter(run_id="cancel-txn", position=0).exists(),
        5,
        "the transaction's checkpoint",
    )
    operations.resume("cancel-txn")
    assert durable.get("cancel-txn").result(timeout=10) == "done"
    assert side_effects("cancel-txn") == {"effect": 1, "after": 1}


@pytest.mark.slow
@pytest.mark.usefixtures("memory_worker")
def test_a_celery_worker_stops_a_cancelled_run_before_its_next_step(side_effects):
    durable.start(pausing, "cancel-celery", 1.0, run_id="cancel-celery")
    wait_for(lambda: Step.objects.filter(run_id="cancel-celery").exists(), 10, "the first step")
    operations.cancel("cancel-celery")
    time.sleep(1.5)
    assert side_effects("cancel-celery") == {"first": 1}
