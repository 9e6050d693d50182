"""Retried steps keep every failed attempt with its error and timing."""

from __future__ import annotations

import pytest

import durable
from durable.models import Attempt, Step
from tests.engine import workflows
from tests.engine.workflows import retrying


def test_a_step_is_retried_and_every_failed_attempt_is_kept(side_effects):
    workflows.FLAKY_FAILURES["retry-1"] = 2
    assert durable.run(retrying, "retry-1", run_id="retry-1") == "ok"
    step = Step.objects.get(run_id="retry-1", position=0)
    assert (step.status, step.attempts) == ("SUCCESS", 3)
    attempts = list(Attempt.objects.filter(run_id="retry-1").order_by("attempt"))
    assert [a.attempt for a in attempts] == [1, 2]
    assert all(a.error["type"] == "builtins.ConnectionError" for a in attempts)
    assert all(a.started_at <= a.finished_at for a in attempts)
    assert side_effects("retry-1") == {"flaky-attempt": 3}


def test_a_step_that_exhausts_its_retries_fails_the_run(side_effects):
    workflows.FLAKY_FAILURES["retry-2"] = 5
    with pytest.raises(ConnectionError):
        durable.run(retrying, "retry-2", run_id="retry-2")
    step = Step.objects.get(run_id="retry-2", position=0)
    assert (step.status, step.attempts) == ("ERROR", 3)
    assert Attempt.objects.filter(run_id="retry-2").count() == 3
