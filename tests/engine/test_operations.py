"""Operator actions: resume, restart, fork and cancel — alone, in bulk, and audited."""

from __future__ import annotations

import threading

import pytest

import durable
from durable import operations
from durable.errors import OperationRefused, RunNotFoundError
from durable.models import AuditEntry, Run, Step
from tests.engine import workflows
from tests.engine.workflows import Boom, fails_at_third_step, ledger


def _failed_run(run_id: str) -> durable.RunHandle:
    workflows.FLAKY_FAILURES[run_id] = 1
    handle = durable.start(fails_at_third_step, run_id, run_id=run_id)
    with pytest.raises(Boom):
        handle.result(timeout=10)
    return handle


def test_resume_continues_a_failed_run_from_its_last_checkpoint(side_effects):
    handle = _failed_run("op-resume")
    assert operations.resume("op-resume", actor="alice") == "op-resume"
    assert handle.result(timeout=10) == "done"
    assert side_effects("op-resume") == {"first": 1, "second": 1, "third": 1}
    entry = AuditEntry.objects.get(action="resume")
    assert (entry.actor, entry.run_ids) == ("alice", ["op-resume"])


def test_resume_refuses_a_successful_run(side_effects):
    durable.run(ledger, "op-ok", ["a"], run_id="op-ok")
    with pytest.raises(OperationRefused, match="already succeeded; restart"):
        operations.resume("op-ok")


def test_restart_re_executes_every_step_and_links_to_its_origin(side_effects):
    durable.run(ledger, "op-restart", ["a", "b"], run_id="op-restart")
    new_id = operations.restart("op-restart")
    assert durable.get(new_id).result(timeout=10) == ["a", "b"]
    assert side_effects("op-restart") == {"a": 2, "b": 2}
    new = Run.objects.get(id=new_id)
    assert (new.forked_from_id, new.forked_from_step) == ("op-restart", 0)


def test_restart_with_edited_input(side_effects):
    durable.run(ledger, "op-edit", ["a"], run_id="op-edit")
    new_id = operations.restart("op-edit", args=["op-edit", ["z"]])
    assert durable.get(new_id).result(timeout=10) == ["z"]


def test_fork_reuses_checkpoints_before_the_step_and_re_executes_from_it(side_effects):
    durable.run(ledger, "op-fork", ["a", "b", "c"], run_id="op-fork")
    new_id = operations.fork("op-fork", from_step=2)
    assert durable.get(new_id).result(timeout=10) == ["a", "b", "c"]
    assert side_effects("op-fork") == {"a": 1, "b": 1, "c": 2}
    new = Run.objects.get(id=new_id)
    assert (new.forked_from_id, new.forked_from_step) == ("op-fork", 2)
    assert Step.objects.filter(run_id=new_id).count() == 3


def test_fork_defaults_to_the_first_failed_step(side_effects):
    _failed_run("op-fork-default")
    new_id = operations.fork("op-fork-default")
    assert durable.get(new_id).result(timeout=10) == "done"
    assert Run.objects.get(id=new_id).forked_from_step == 2
    assert side_effects("op-fork-default") == {"first": 1, "second": 1, "third": 1}


def test_fork_refuses_a_step_the_run_never_reached(side_effects):
    durable.run(ledger, "op-far", ["a"], run_id="op-far")
    with pytest.raises(OperationRefused, match="never reached step 5"):
        operations.fork("op-far", from_step=5)
    with pytest.raises(OperationRefused, match="no failed step"):
        operations.fork("op-far")


def test_operations_on_unknown_runs_say_so(transactional_db):
    with pytest.raises(RunNotFoundError):
        operations.resume("nope")


GATE = threading.Event()


@durable.step(name="wait_for_gate")
def wait_for_gate() -> str:
    GATE.wait(10)
    return "passed"


@durable.workflow(name="tests.gated")
def gated(run_id: str) -> list[str]:
    first = wait_for_gate()
    return [first, workflows.note(run_id, "after-gate")]


def test_cancel_stops_a_run_at_its_next_step_boundary_and_keeps_checkpoints(side_effects):
    GATE.clear()
    handle = durable.start(gated, "op-cancel", run_id="op-cancel")
    from tests.engine.processes import wait_for

    wait_for(lambda: handle.status() == "RUNNING", 10, "the run to start")
    operations.cancel("op-cancel", reason="customer asked")
    GATE.set()
    with pytest.raises(durable.errors.RunCancelledError, match="customer asked"):
        handle.result(timeout=10)
    assert side_effects("op-cancel") == {}
    operations.resume("op-cancel")
    assert handle.result(timeout=10) == ["passed", "after-gate"]


def test_bulk_operations_report_what_was_done_and_what_was_refused(side_effects):
    _failed_run("bulk-1")
    _failed_run("bulk-2")
    durable.run(ledger, "bulk-ok", ["a"], run_id="bulk-ok")
    progress = []
    result = operations.resume(
        ["bulk-1", "bulk-2", "bulk-ok", "missing", "bad id"],
        actor="admin",
        progress=lambda done, total: progress.append((done, total)),
    )
    assert set(result.done) == {"bulk-1", "bulk-2"}
    assert set(result.refused) == {"bulk-ok", "missing", "bad id"}
    assert "already succeeded" in result.refused["bulk-ok"]
    assert progress[-1] == (4, 4)
    for run_id in ("bulk-1", "bulk-2"):
        assert durable.get(run_id).result(timeout=10) == "done"
    entry = AuditEntry.objects.get(action="resume")
    assert entry.detail["refused"]["bulk-ok"].startswith("it already succeeded")
