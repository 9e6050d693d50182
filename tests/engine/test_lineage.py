"""Run trees: cancel and resume take a run's children along, and a child is only ever its
parent's own."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

import durable
from durable import executors, operations
from durable.core import _runtime as runtime
from durable.errors import RunCancelledError
from durable.models import Message, Run, RunStatus
from tests.engine.processes import wait_for
from tests.engine.workflows import note

GATE = threading.Event()


@durable.step(name="tests.lineage.wait_for_gate")
def wait_for_gate() -> str:
    GATE.wait(10)
    return "opened"


@durable.workflow(name="tests.lineage.gated_child")
def gated_child(run_id: str) -> str:
    wait_for_gate()
    return note(run_id, "child-finished")


@durable.workflow(name="tests.lineage.parent")
def parent(run_id: str) -> str:
    return "parent got " + durable.start(gated_child, run_id).result()


# 2 s: the resumed tree (parent, child, their replays) must end within the renewed timeout
# on a loaded machine too; the first time out comes whatever the timeout (the gate is shut)
PARENT_TIMEOUT = 2.0


@durable.workflow(name="tests.lineage.timed_parent", timeout=PARENT_TIMEOUT)
def timed_parent(run_id: str) -> str:
    return "parent got " + durable.start(gated_child, run_id).result()


def _child_of(run_id: str) -> Run:
    wait_for(lambda: Run.objects.filter(parent_id=run_id).exists(), 10, "the child")
    return Run.objects.get(parent_id=run_id)


def test_resuming_a_cancelled_parent_resumes_the_children_its_cancel_took_down(side_effects):
    GATE.clear()
    handle = durable.start(parent, "lin-cancel", run_id="lin-cancel")
    child = _child_of("lin-cancel")
    wait_for(lambda: durable.get(child.id).status() == "RUNNING", 10, "the child to run")
    operations.cancel("lin-cancel", reason="hold on")
    assert Run.objects.get(id=child.id).status == RunStatus.CANCELLED
    GATE.set()
    with pytest.raises(RunCancelledError):
        handle.result(timeout=10)
    assert operations.resume("lin-cancel") == "lin-cancel"
    assert handle.result(timeout=10) == "parent got child-finished"
    assert Run.objects.get(id=child.id).status == RunStatus.SUCCESS


def test_resuming_a_timed_out_parent_resumes_its_timed_out_children(side_effects, settings):
    settings.DURABLE_POLL_SECONDS = 0.1
    GATE.clear()
    handle = durable.start(timed_parent, "lin-timeout", run_id="lin-timeout")
    child = _child_of("lin-timeout")
    with pytest.raises(RunCancelledError, match="timed out"):
        handle.result(timeout=10)
    wait_for(lambda: durable.get(child.id).status() == "CANCELLED", 10, "the child to stop")
    GATE.set()
    operations.resume("lin-timeout")
    assert handle.result(timeout=10) == "parent got child-finished"


def test_resume_leaves_a_child_an_operator_cancelled_on_its_own(side_effects):
    GATE.clear()
    handle = durable.start(parent, "lin-own", run_id="lin-own")
    child = _child_of("lin-own")
    operations.cancel(child.id, reason="not this one")
    with pytest.raises(RunCancelledError):
        handle.result(timeout=10)
    GATE.set()
    operations.resume("lin-own")
    with pytest.raises(RunCancelledError):
        handle.result(timeout=10)
    assert Run.objects.get(id=child.id).cancel_reason == "not this one"


def _blocked_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


@durable.workflow(name="tests.lineage.middle")
def middle(run_id: str) -> str:
    return durable.start(gated_child, run_id).result()


@durable.workflow(name="tests.lineage.grandparent")
def grandparent(run_id: str) -> str:
    return durable.start(middle, run_id).result()


def test_a_cancel_reaches_a_grandchild_created_while_it_runs(side_effects, monkeypatch):
    """The grandchild's creation has written its checkpoint but not committed when the
    cancel starts: the cancel must wait for it and take the grandchild down too."""
    GATE.set()
    recorded, release = threading.Event(), threading.Event()
    real_record_entry = runtime.record_entry

    def record_then_pause(run_context, position, name, kind, *args, **kwargs):
        real_record_entry(run_context, position, name, kind, *args, **kwargs)
        if kind == "child" and run_context.workflow.name == "tests.lineage.middle":
            recorded.set()
            release.wait(10)

    monkeypatch.setattr(runtime, "record_entry", record_then_pause)
    handle = durable.start(grandparent, "lin-race", run_id="lin-race")
    assert recorded.wait(10)
    outcome: dict = {}

    def cancel() -> None:
        try:
            outcome["cancelled"] = operations.cancel("lin-race", reason="race")
        finally:
            connection.close()

    canceller = threading.Thread(target=cancel)
    canceller.start()
    wait_for(_blocked_on_a_lock, 10, "the cancel to wait for the grandchild's creation")
    release.set()
    canceller.join(10)
    assert outcome == {"cancelled": "lin-race"}
    with pytest.raises(RunCancelledError):
        handle.result(timeout=10)
    middle_run = Run.objects.get(parent_id="lin-race")
    grandchild = Run.objects.get(parent_id=middle_run.id)
    assert (middle_run.status, grandchild.status) == (RunStatus.CANCELLED, RunStatus.CANCELLED)
    assert side_effects("lin-race") == {}


@durable.workflow(name="tests.lineage.publisher")
def publisher(run_id: str) -> str:
    durable.set_event("stage", {"paid": 1})
    durable.set_event("stage", {"paid": 2})
    note(run_id, "after-events")
    return "published"


def test_a_fork_carries_the_events_its_copied_checkpoints_published(side_effects, settings):
    durable.run(publisher, "lin-events", run_id="lin-events")
    new_id = operations.fork("lin-events", from_step=2)
    assert durable.get_event(new_id, "stage", timeout=0) == {"paid": 2}
    assert durable.get(new_id).result(timeout=10) == "published"
    assert durable.get_event(new_id, "stage", timeout=0) == {"paid": 2}
    executors.shutdown()  # the next fork stays unexecuted: only what was copied is seen
    settings.DURABLE_EXECUTOR = "external"
    earlier = operations.fork("lin-events", from_step=1)
    assert durable.get_event(earlier, "stage", timeout=0) == {"paid": 1}


@durable.workflow(name="tests.lineage.listener")
def listener(run_id: str) -> str:
    message = durable.recv("go", timeout=1)
    note(run_id, f"got-{message}")
    return message


def test_a_fork_gets_the_messages_its_origin_got_consumed_as_far_as_it_copied(side_effects):
    handle = durable.start(listener, "lin-msg", run_id="lin-msg")
    durable.send("lin-msg", "hello", topic="go")
    assert handle.result(timeout=10) == "hello"
    again = operations.fork("lin-msg", from_step=0)  # its recv runs again: same message
    assert durable.get(again).result(timeout=10) == "hello"
    replayed = operations.fork("lin-msg", from_step=1)  # its recv is copied: consumed there
    assert durable.get(replayed).result(timeout=10) == "hello"
    copied = Message.objects.get(run_id=replayed)
    assert (copied.payload, copied.consumed_position) == ("hello", 0)
