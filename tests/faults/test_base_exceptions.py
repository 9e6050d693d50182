"""A BaseException from user code never leaves a run RUNNING nor kills an executor thread."""

from __future__ import annotations

import pytest

import durable
from durable import executors
from durable.errors import WorkflowError
from durable.models import Run
from tests.faults.workflows import base_exception, ledger


def test_a_test_framework_failure_in_a_step_fails_the_run_at_once(transactional_db):
    handle = durable.start(base_exception, "failed", run_id="base-1")
    # a record never raises a BaseException that is no Exception (docs/debugging.md): the
    # result names it in a WorkflowError instead of re-raising it in the caller
    with pytest.raises(WorkflowError, match="tests.faults.workflows.Interrupt: boom"):
        handle.result(timeout=5)
    assert Run.objects.get(id="base-1").status == "ERROR"


@pytest.mark.parametrize("kind", ["keyboard", "exit"])
def test_keyboard_interrupt_or_exit_in_a_step_releases_the_run_and_keeps_the_thread(
    transactional_db, settings, kind
):
    settings.DURABLE_THREADS = 1
    settings.DURABLE_EXECUTOR = "external"
    durable.start(base_exception, kind, run_id=f"base-{kind}")
    executor = executors.start_thread_executor()
    executor.dispatch(f"base-{kind}")
    run = Run.objects.get(id=f"base-{kind}")
    for _ in range(100):
        run.refresh_from_db()
        if run.status == "ENQUEUED" and run.started_at is not None:
            break
        executor._stop.wait(0.05)
    assert (run.status, run.executor_id, run.recovery_count) == ("ENQUEUED", None, 0)
    # the single thread survived and executes the next run
    durable.start(ledger, "base-next", 1, 0, run_id="base-next")
    executor.dispatch("base-next")
    assert durable.get("base-next").result(timeout=5) == 1
