"""Steps are checkpointed in order and a run's result comes back to its caller."""

from __future__ import annotations

import durable
from durable.models import Run, Step
from tests.engine.workflows import add, ledger, sum_three


def test_a_workflow_returns_its_result(transactional_db):
    assert durable.run(sum_three, 1, 2, 3) == 6


def test_each_step_is_checkpointed_with_its_position_name_input_and_output(transactional_db):
    handle = durable.start(sum_three, 1, 2, 3, run_id="sum-1")
    assert handle.result(timeout=10) == 6
    steps = list(Step.objects.filter(run_id="sum-1").order_by("position"))
    assert [(s.position, s.name, s.status, s.output) for s in steps] == [
        (0, "tests.engine.workflows.add", "SUCCESS", 3),
        (1, "tests.engine.workflows.add", "SUCCESS", 6),
    ]
    assert steps[0].input == {"args": [1, 2], "kwargs": {}}
    run = Run.objects.get(id="sum-1")
    assert (run.status, run.output, run.steps_done) == ("SUCCESS", 6, 2)
    assert run.started_at <= run.finished_at


def test_a_step_called_outside_a_workflow_is_a_plain_call():
    assert add(2, 2) == 4


def test_status_moves_from_enqueued_to_success(transactional_db, side_effects):
    handle = durable.start(ledger, "l-1", ["a", "b"], run_id="l-1")
    assert handle.status() in {"ENQUEUED", "RUNNING", "SUCCESS"}
    assert handle.result(timeout=10) == ["a", "b"]
    assert handle.status() == "SUCCESS"
    assert side_effects("l-1") == {"a": 1, "b": 1}
