"""Replay returns recorded outputs without re-running steps, and checks determinism."""

from __future__ import annotations

import pytest

import durable
from durable import operations
from durable.errors import NonDeterminismError
from durable.models import Run, Step
from tests.engine import workflows
from tests.engine.workflows import Boom, fails_at_third_step


def test_a_recorded_step_is_never_executed_again_on_replay(side_effects):
    workflows.FLAKY_FAILURES["replay-1"] = 1
    handle = durable.start(fails_at_third_step, "replay-1", run_id="replay-1")
    with pytest.raises(Boom):
        handle.result(timeout=10)
    operations.resume("replay-1")
    assert handle.result(timeout=10) == "done"
    assert side_effects("replay-1") == {"first": 1, "second": 1, "third": 1}


def test_a_step_error_is_recorded_once_with_its_traceback(side_effects):
    workflows.FLAKY_FAILURES["replay-2"] = 1
    handle = durable.start(fails_at_third_step, "replay-2", run_id="replay-2")
    with pytest.raises(Boom, match="third step broke"):
        handle.result(timeout=10)
    failed = Step.objects.get(run_id="replay-2", position=2)
    assert failed.status == "ERROR"
    assert failed.error["type"] == "tests.engine.workflows.Boom"
    assert "third step broke" in failed.error["traceback"]
    run = Run.objects.get(id="replay-2")
    assert run.status == "ERROR" and run.error_type == "tests.engine.workflows.Boom"


@durable.step(name="charge")
def charge() -> str:
    return "charged"


@durable.step(name="ship")
def ship() -> str:
    return "shipped"


CHANGED_CODE = {"value": False}


@durable.workflow(name="tests.changes_shape")
def changes_shape() -> str:
    charge()
    if CHANGED_CODE["value"]:
        return ship()
    raise Boom("fail after charge")


def test_replay_with_a_different_step_name_fails_with_a_non_determinism_error(transactional_db):
    CHANGED_CODE["value"] = False
    handle = durable.start(changes_shape, run_id="shape-1")
    with pytest.raises(Boom):
        handle.result(timeout=10)
    # "deploy" code that asks for a different step at position 0
    Step.objects.filter(run_id="shape-1", position=0).update(name="ship-old")
    CHANGED_CODE["value"] = True
    operations.resume("shape-1")
    with pytest.raises(NonDeterminismError) as raised:
        handle.result(timeout=10)
    message = str(raised.value)
    assert "'charge'" in message and "'ship-old'" in message and "step 0" in message
    assert Run.objects.get(id="shape-1").error_type == "durable.errors.NonDeterminismError"


@durable.workflow(name="tests.swallows_non_determinism")
def swallows_non_determinism() -> str:
    try:
        charge()
    except Exception:  # noqa: BLE001 - the engine must not let this hide the mismatch
        return "hidden"
    return "ran"


def test_a_workflow_cannot_swallow_a_non_determinism_error(transactional_db):
    handle = durable.start(swallows_non_determinism, run_id="swallow-1")
    assert handle.result(timeout=10) == "ran"
    Step.objects.filter(run_id="swallow-1").update(name="something-else")
    Run.objects.filter(id="swallow-1").update(status="ERROR")
    operations.resume("swallow-1")
    with pytest.raises(NonDeterminismError):
        handle.result(timeout=10)
