"""A worker killed with SIGKILL mid-run loses nothing: another one finishes the run."""

from __future__ import annotations

import pytest

import durable
from durable.models import Run, RunStatus
from tests.engine.processes import start_worker, steps_recorded, stop, wait_for
from tests.engine.workflows import crash_ledger

pytestmark = pytest.mark.slow

STEPS = 30


@pytest.fixture
def external_executor(settings):
    """Runs started here wait in PostgreSQL for the worker subprocesses."""
    settings.DURABLE_EXECUTOR = "external"


def test_a_run_survives_sigkill_of_its_worker_and_recorded_steps_run_once(
    side_effects, external_executor
):
    durable.start(crash_ledger, "crash-1", STEPS, 0.02, run_id="crash-1")
    first = start_worker()
    second = None
    try:
        wait_for(lambda: steps_recorded("crash-1") >= 12, 60, "12 checkpoints")
        first.kill()  # SIGKILL: no cleanup, the lease is left behind
        first.wait(10)
        done_at_crash = steps_recorded("crash-1")
        assert done_at_crash < 2 * STEPS, "the worker finished before it was killed"
        second = start_worker()
        wait_for(
            lambda: Run.objects.get(id="crash-1").status == RunStatus.SUCCESS,
            60,
            "the recovered run to finish",
        )
    finally:
        logs = stop(first) + (stop(second) if second else "")
    run = Run.objects.get(id="crash-1")
    assert run.output == STEPS, logs
    assert run.recovery_count == 1
    counts = side_effects("crash-1")
    assert all(counts[f"txn-{i}"] == 1 for i in range(STEPS)), counts
    plain = [counts[f"plain-{i}"] for i in range(STEPS)]
    # a plain step body is at-least-once: only the one in flight at the kill may repeat
    assert all(n >= 1 for n in plain) and sum(plain) - STEPS <= 1, plain
    assert run.steps.count() == 2 * STEPS


def test_a_run_whose_owner_keeps_dying_goes_dead_and_can_be_resumed(
    side_effects, external_executor, settings
):
    settings.DURABLE_MAX_RECOVERIES = 0
    durable.start(crash_ledger, "crash-2", 20, 0.05, run_id="crash-2")
    worker = start_worker(DURABLE_MAX_RECOVERIES="0")
    try:
        wait_for(lambda: steps_recorded("crash-2") >= 4, 60, "4 checkpoints")
        worker.kill()
        worker.wait(10)
        worker = start_worker(DURABLE_MAX_RECOVERIES="0")
        wait_for(lambda: Run.objects.get(id="crash-2").status == RunStatus.DEAD, 60, "DEAD")
        run = Run.objects.get(id="crash-2")
        assert run.error_type == "durable.errors.RunDeadError"
        assert "resume" in run.error["message"]
        durable.operations.resume("crash-2", actor="oncall")
        wait_for(
            lambda: Run.objects.get(id="crash-2").status == RunStatus.SUCCESS,
            60,
            "the resumed run to finish",
        )
    finally:
        stop(worker)
    assert all(side_effects("crash-2")[f"txn-{i}"] == 1 for i in range(20))
