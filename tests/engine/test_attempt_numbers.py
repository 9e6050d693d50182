"""Attempt numbers count on across recoveries and resumes (docs/replay.md): a step run
again after its executor died gets the next number, so no two executions share one, and
the death uses none of the step's retries."""

from __future__ import annotations

import pytest

import durable
from durable.models import Attempt, Run, RunStatus, Step
from tests.engine.processes import start_worker, stop, wait_for
from tests.engine.workflows import attempts_counted

pytestmark = pytest.mark.slow


@pytest.fixture
def external_executor(settings):
    settings.DURABLE_EXECUTOR = "external"


def _run_killing_the_first_worker(run_id: str, plan: list[str], side_effects) -> str:
    """Start the run on a worker, SIGKILL it while the step's first execution hangs, and
    let a second worker recover and finish it; returns the workers' output."""
    durable.start(attempts_counted, run_id, plan, run_id=run_id)
    first, second = start_worker(), None
    try:
        wait_for(lambda: side_effects(run_id), 60, "the step's first execution")
        first.kill()
        first.wait(10)
        second = start_worker()
        wait_for(lambda: Run.objects.get(id=run_id).status == RunStatus.SUCCESS, 90, "the end")
    finally:
        logs = stop(first) + (stop(second) if second else "")
    return logs


def test_a_step_run_again_after_a_sigkill_gets_the_next_attempt_number(
    side_effects, external_executor
):
    logs = _run_killing_the_first_worker("attempt-crash", ["hang"], side_effects)
    assert side_effects("attempt-crash") == {"attempt-1": 1, "attempt-2": 1}, logs
    assert Run.objects.get(id="attempt-crash").output == 2
    assert Step.objects.get(run_id="attempt-crash", position=0).attempts == 2


def test_a_death_uses_no_retry_and_the_numbers_go_on_past_it(side_effects, external_executor):
    """retries=1: killed, then failed, then run once more (the retry the death did not use)."""
    logs = _run_killing_the_first_worker("attempt-budget", ["hang", "fail"], side_effects)
    labels = side_effects("attempt-budget")
    assert labels == {"attempt-1": 1, "attempt-2": 1, "attempt-3": 1}, logs
    assert [row.attempt for row in Attempt.objects.filter(run_id="attempt-budget")] == [2]
    assert Step.objects.get(run_id="attempt-budget", position=0).attempts == 3
