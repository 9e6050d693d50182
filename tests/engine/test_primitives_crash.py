"""Sleep, recv and child workflows survive a SIGKILL of their worker like steps do."""

from __future__ import annotations

import pytest

import durable
from durable.models import Message, Run, RunStatus, Step
from tests.engine.processes import start_worker, stop, wait_for
from tests.engine.workflows import tour

pytestmark = pytest.mark.slow


def test_a_run_killed_while_waiting_resumes_its_sleep_child_and_message_exactly_once(
    side_effects, settings
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(tour, "tour-1", run_id="tour-1")
    first = start_worker(DURABLE_SLEEP_INLINE_SECONDS="0.1")
    second = None
    try:
        wait_for(
            lambda: Run.objects.filter(parent_id="tour-1", status=RunStatus.SUCCESS).exists(),
            60,
            "the child run to finish while the parent waits in recv",
        )
        first.kill()
        first.wait(10)
        durable.send("tour-1", "hello", topic="go")
        second = start_worker(DURABLE_SLEEP_INLINE_SECONDS="0.1")
        wait_for(
            lambda: Run.objects.get(id="tour-1").status == RunStatus.SUCCESS,
            60,
            "the recovered run to finish",
        )
    finally:
        logs = stop(first) + (stop(second) if second else "")
    run = Run.objects.get(id="tour-1")
    assert run.output == ["hello", "child-done"], logs
    assert side_effects("tour-1") == {
        "before-sleep": 1,
        "after-sleep": 1,
        "child-ran": 1,
        "got-hello": 1,
    }
    assert Run.objects.filter(parent_id="tour-1").count() == 1
    kinds = list(
        Step.objects.filter(run_id="tour-1").order_by("position").values_list("kind", flat=True)
    )
    # the recv parked: its deadline (durable.recv.wait) precedes the message it took
    assert kinds == ["step", "sleep", "step", "child", "recv", "recv", "step", "wait"]
    assert Message.objects.get(run_id="tour-1").consumed_position == 5
