"""Where is it now: the live stack of a run's current step, answered by its owner's heartbeat
through PostgreSQL, on the thread executor and on a real Celery worker process."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

import durable
from durable import executors, operations
from durable.debugging import stacks
from durable.errors import DurableError, OperationRefused, RunNotFoundError
from durable.models import Run, RunStatus, StackRequest
from tests.engine import celery_processes
from tests.engine.celery_workflows import answer_at_once, paying
from tests.engine.processes import wait_for

pytestmark = pytest.mark.usefixtures("transactional_db")
celery_cluster = celery_processes.celery_cluster
WORKFLOWS = Path(celery_processes.__file__).with_name("celery_workflows.py")
SLEEP_LINE = next(
    number
    for number, text in enumerate(WORKFLOWS.read_text().splitlines(), start=1)
    if "# the bank is slow" in text
)


def stack_in_the_bank(run_id: str, **options) -> stacks.LiveStack:
    """Ask until the step's body is on the stack (the run may still be starting)."""
    found: list[stacks.LiveStack] = []
    running = Run.objects.filter(id=run_id, status=RunStatus.RUNNING)
    wait_for(running.exists, 30, f"run {run_id} to start")

    def in_the_bank() -> bool:
        found[:] = [stacks.live_stack(run_id, timeout=10, **options)]
        return any(f.function == "waiting_for_the_bank" for t in found[0].threads for f in t.frames)

    wait_for(in_the_bank, 30, "the step to be on the live stack")
    return found[0]


def the_bank_frame(stack: stacks.LiveStack) -> stacks.Frame:
    return next(
        frame
        for thread in stack.threads
        for frame in thread.frames
        if frame.function == "waiting_for_the_bank"
    )


def test_the_stack_of_a_sleeping_step_names_its_function_file_and_line():
    durable.start(paying, "stack-thread", 30, run_id="stack-thread")

    stack = stack_in_the_bank("stack-thread")

    frame = the_bank_frame(stack)
    assert (frame.file, frame.line) == (str(WORKFLOWS), SLEEP_LINE)
    assert frame.source == "line.acquire(timeout=seconds)  # the bank is slow"
    assert frame.locals is None, "locals only when asked for"
    assert stack.threads[0].frames[-1] == frame, "the current line is the innermost frame"
    assert not stack.threads[0].hung
    assert f"line {SLEEP_LINE}, in waiting_for_the_bank" in stack.render()
    operations.cancel("stack-thread")
    answer_at_once("stack-thread")


@pytest.mark.slow
def test_locals_are_bounded_and_redacted_by_the_settings(settings):
    settings.DURABLE_STACK_MAX_REPR_CHARS = 12
    durable.start(paying, "stack-locals", 30, run_id="stack-locals")

    frame = the_bank_frame(stack_in_the_bank("stack-locals", include_locals=True))

    assert frame.locals["api_token"] == "<redacted>"
    assert frame.locals["reference"] == "'payment-st…"
    assert frame.locals["seconds"] == "30"
    settings.DURABLE_STACK_MAX_LOCALS = 1
    frame = the_bank_frame(stack_in_the_bank("stack-locals", include_locals=True))
    assert list(frame.locals) == ["run_id"]
    operations.cancel("stack-locals")
    answer_at_once("stack-locals")


@pytest.mark.slow
def test_an_executor_with_nothing_asked_answers_nothing_and_a_request_is_answered_once():
    durable.start(paying, "stack-once", 30, run_id="stack-once")
    stack_in_the_bank("stack-once")
    answered = StackRequest.objects.filter(run_id="stack-once")
    assert answered.exists() and not answered.filter(answered_at=None).exists()
    assert set(answered.values_list("executor_id", flat=True)) == {
        Run.objects.get(id="stack-once").executor_id
    }
    operations.cancel("stack-once")
    answer_at_once("stack-once")


def test_the_stack_of_a_hung_step_abandoned_after_a_cancel_is_still_shown(settings):
    settings.DURABLE_POLL_SECONDS = 0.1
    durable.start(paying, "stack-hung", 30, run_id="stack-hung")
    stack_in_the_bank("stack-hung")
    operations.cancel("stack-hung")
    executor = executors.get_executor()
    wait_for(lambda: "stack-hung" in executor._hung_runs, 10, "the hung thread to be abandoned")

    stack = stacks.live_stack("stack-hung", timeout=10)

    assert Run.objects.get(id="stack-hung").status == RunStatus.CANCELLED
    assert [thread.hung for thread in stack.threads] == [True]
    assert the_bank_frame(stack).line == SLEEP_LINE
    assert "(hung, abandoned)" in stack.render()
    answer_at_once("stack-hung")  # the abandoned thread ends and closes its connection


def test_a_finished_run_is_refused_with_a_clear_error():
    handle = durable.start(paying, "stack-done", 0, run_id="stack-done")
    handle.result(timeout=10)
    with pytest.raises(OperationRefused, match="SUCCESS, so no step of it runs now"):
        stacks.live_stack("stack-done")
    with pytest.raises(RunNotFoundError):
        stacks.live_stack("no-such-run")
    with pytest.raises(DurableError):
        stacks.live_stack("bad id\x00")


def test_a_run_nobody_executes_times_out_with_a_message_that_says_what_to_do(settings):
    settings.DURABLE_EXECUTOR = "external"
    Run.objects.create(id="stack-orphan", workflow="tests.celery.paying", status="RUNNING",
                       input={"args": ["stack-orphan", 1], "kwargs": {}})  # fmt: skip
    started = time.monotonic()
    with pytest.raises(stacks.StackTimeoutError, match="did not answer within 0.5s"):
        stacks.live_stack("stack-orphan", timeout=0.5)
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_a_celery_worker_process_answers_with_the_stack_of_its_step(celery_cluster):
    celery_cluster.start(1)
    durable.start(paying, "stack-celery", 60, run_id="stack-celery")

    stack = stack_in_the_bank("stack-celery")

    frame = the_bank_frame(stack)
    assert (frame.function, frame.line) == ("waiting_for_the_bank", SLEEP_LINE)
    assert frame.file.endswith("tests/engine/celery_workflows.py")
    assert stack.executor_id == Run.objects.get(id="stack-celery").executor_id
    assert Run.objects.get(id="stack-celery").status == RunStatus.RUNNING


@pytest.mark.slow
def test_durable_stack_prints_the_stack_and_refuses_hostile_input():
    durable.start(paying, "stack-cli", 30, run_id="stack-cli")
    stack_in_the_bank("stack-cli")
    out = io.StringIO()

    call_command("durable", "stack", "stack-cli", "--locals", "--timeout", "10", stdout=out)

    assert f"line {SLEEP_LINE}, in waiting_for_the_bank" in out.getvalue()
    assert "line.acquire(timeout=seconds)  # the bank is slow" in out.getvalue()
    assert "api_token = <redacted>" in out.getvalue()
    assert StackRequest.objects.filter(run_id="stack-cli", include_locals=True).exists()
    with pytest.raises(CommandError, match="timeout: -1 s; give seconds between 0 and 600"):
        call_command("durable", "stack", "stack-cli", "--timeout", "-1")
    with pytest.raises(CommandError, match="no run with id"):
        call_command("durable", "stack", "nope")
    operations.cancel("stack-cli")
    answer_at_once("stack-cli")
