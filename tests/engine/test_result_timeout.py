"""`handle.result(timeout=…)` inside a workflow: the deadline is recorded, so the wait
times out on time, and a replay reaches the same outcome as the first run did."""

from __future__ import annotations

import threading

import durable
from durable import operations
from durable.errors import ResultTimeoutError
from durable.models import Run, Step
from tests.engine.processes import wait_for
from tests.engine.workflows import note

GATE = threading.Event()
FAIL_ONCE: set[str] = set()


@durable.step(name="tests.result_timeout.wait_for_gate")
def wait_for_gate() -> str:
    GATE.wait(10)
    return "opened"


@durable.workflow(name="tests.result_timeout.slow_child")
def slow_child(run_id: str) -> str:
    return wait_for_gate()


@durable.step(name="tests.result_timeout.fail_once")
def fail_once(run_id: str) -> None:
    if run_id in FAIL_ONCE:
        FAIL_ONCE.discard(run_id)
        raise RuntimeError("fails once after giving up")


@durable.workflow(name="tests.result_timeout.impatient")
def impatient(run_id: str, timeout: float) -> str:
    handle = durable.start(slow_child, run_id)
    try:
        outcome = "child said " + handle.result(timeout=timeout)
    except ResultTimeoutError:
        outcome = note(run_id, "gave-up")
    fail_once(run_id)
    return outcome


def test_a_workflow_waiting_for_a_child_gives_up_at_its_timeout(side_effects, settings):
    settings.DURABLE_SLEEP_INLINE_SECONDS = 0.1  # the wait parks the run, then wakes on time
    settings.DURABLE_POLL_SECONDS = 0.1
    GATE.clear()
    try:
        assert durable.run(impatient, "rt-1", 0.5, run_id="rt-1") == "gave-up"
    finally:
        GATE.set()
    assert Step.objects.filter(run_id="rt-1", kind="wait").count() == 1


def test_a_replay_times_out_again_even_after_the_child_finished(side_effects):
    GATE.clear()
    FAIL_ONCE.add("rt-2")
    handle = durable.start(impatient, "rt-2", 0.3, run_id="rt-2")
    wait_for(lambda: handle.status() == "ERROR", 10, "the run to give up, then fail")
    GATE.set()
    (child,) = handle.children()
    assert child.result(timeout=10) == "opened"
    operations.resume("rt-2")
    assert handle.result(timeout=10) == "gave-up"
    assert side_effects("rt-2") == {"gave-up": 1}


def test_a_child_that_ends_in_time_returns_its_result(side_effects):
    GATE.set()
    assert durable.run(impatient, "rt-3", 5.0, run_id="rt-3") == "child said opened"
    assert Run.objects.get(id="rt-3").status == "SUCCESS"
