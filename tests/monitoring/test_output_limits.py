"""A step whose output is over its size limit fails with a message, instead of bloating."""

from __future__ import annotations

import pytest

import durable
from durable.errors import StepOutputTooLargeError
from durable.models import Step
from tests.monitoring.workflows import export, unbounded_flow


def test_a_step_over_max_output_bytes_fails_with_a_clear_message(transactional_db):
    assert durable.run(export, 10, run_id="lim-ok") == 10
    handle = durable.start(export, 500, run_id="lim-big")
    with pytest.raises(StepOutputTooLargeError, match="over its limit of 1000"):
        handle.result(timeout=10)
    step = Step.objects.get(run_id="lim-big", position=0)
    assert (step.status, step.output) == ("ERROR", None)
    assert "tests.monitoring.workflows.export_rows" in step.error["message"]
    assert "3001 bytes" in step.error["message"]


def test_the_global_default_limits_steps_without_their_own(transactional_db, settings):
    settings.DURABLE_MAX_STEP_OUTPUT_BYTES = 100
    assert durable.run(unbounded_flow, 50) == 50
    with pytest.raises(StepOutputTooLargeError):
        durable.start(unbounded_flow, 200, run_id="lim-global").result(timeout=10)
