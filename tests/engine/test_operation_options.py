"""Fork and restart onto a chosen run id, queue or timeout; cancel without children;
delete a finished run by id."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import durable
from durable import operations, queues
from durable.core import _clock as clock
from durable.errors import (
    InvalidArgumentError,
    InvalidRunIdError,
    OperationRefused,
    RunNotFoundError,
)
from durable.models import AuditEntry, Event, Message, Run, RunStatus, Step, StoredQueue
from tests.engine.processes import wait_for
from tests.engine.test_lineage import GATE, _child_of, parent
from tests.engine.workflows import ledger
from tests.tiers import examples


@pytest.fixture
def finished_run(side_effects):
    def make(run_id: str, labels: list[str] | None = None) -> str:
        durable.run(ledger, run_id, labels or ["a", "b"], run_id=run_id)
        return run_id

    return make


def test_fork_onto_a_chosen_run_id_queue_and_timeout(finished_run):
    finished_run("o-fork")
    before = clock.now()
    new_id = operations.fork(
        "o-fork", from_step=1, new_run_id="o-fork-2", queue="reruns", timeout=120
    )
    assert new_id == "o-fork-2"
    assert durable.get(new_id).result(timeout=10) == ["a", "b"]
    new = Run.objects.get(id=new_id)
    assert (new.queue, new.forked_from_id, new.forked_from_step) == ("reruns", "o-fork", 1)
    assert before + timedelta(seconds=119) < new.deadline_at < clock.now() + timedelta(seconds=121)


def test_restart_onto_a_chosen_run_id_and_queue(finished_run):
    finished_run("o-restart")
    assert (
        operations.restart("o-restart", new_run_id="o-restart-2", queue="reruns") == "o-restart-2"
    )
    assert durable.get("o-restart-2").result(timeout=10) == ["a", "b"]
    assert Run.objects.get(id="o-restart-2").queue == "reruns"


LIMITED_RERUNS = durable.Queue("tests.options.limited-reruns", concurrency=1)


@pytest.mark.parametrize("operation, options", [("fork", {"from_step": 1}), ("restart", {})])
def test_a_new_run_onto_a_declared_queue_finds_its_limits_stored(finished_run, operation, options):
    """The queue is declared in this process but has no row yet: the fork or restart writes
    it with the run, so no executor claims the run without the queue's limits."""
    finished_run("o-limited")
    # the executor stored the declarations as it started; a web process without one that
    # forks onto a queue declared since finds no row
    StoredQueue.objects.filter(name=LIMITED_RERUNS.name).delete()
    queues.forget_stored()
    new_id = getattr(operations, operation)(
        "o-limited", new_run_id="o-limited-2", queue=LIMITED_RERUNS.name, **options
    )
    row = StoredQueue.objects.get(name=LIMITED_RERUNS.name)
    assert (row.concurrency, row.declared) == (1, LIMITED_RERUNS.as_dict())
    assert durable.get(new_id).result(timeout=10) == ["a", "b"]


def test_a_chosen_run_id_that_exists_is_refused_and_nothing_is_written(finished_run):
    finished_run("o-taken")
    finished_run("o-other")
    with pytest.raises(OperationRefused, match="'o-other' is taken by an existing run"):
        operations.fork("o-taken", from_step=1, new_run_id="o-other")
    with pytest.raises(OperationRefused, match="is taken"):
        operations.restart("o-taken", new_run_id="o-taken")
    assert Run.objects.filter(forked_from_id="o-taken").count() == 0
    assert Step.objects.filter(run_id="o-other").count() == 2  # its history untouched
    refusal = AuditEntry.objects.filter(action="fork").latest("id")
    assert "is taken" in refusal.detail["refused"]["o-taken"]
    assert refusal.detail["new_run_id"] == "o-other"


def test_a_chosen_run_id_names_one_run_only(finished_run):
    finished_run("o-one")
    finished_run("o-two")
    with pytest.raises(InvalidArgumentError, match="new_run_id.*one run at a time"):
        operations.restart(["o-one", "o-two"], new_run_id="o-new")


@pytest.mark.parametrize("bad", ["a~1", "", "../x", 42])
def test_a_chosen_run_id_must_be_a_valid_new_id(finished_run, bad):
    finished_run("o-invalid")
    with pytest.raises(InvalidRunIdError):
        operations.fork("o-invalid", from_step=0, new_run_id=bad)


@pytest.mark.parametrize(
    ("options", "argument"),
    [({"timeout": 0}, "timeout"), ({"timeout": "1h"}, "timeout"), ({"queue": ["q"]}, "queue")],
)
def test_a_bad_queue_or_timeout_is_refused_naming_it(finished_run, options, argument):
    finished_run("o-badopt")
    with pytest.raises(InvalidArgumentError, match=argument):
        operations.restart("o-badopt", **options)


def test_cancel_without_children_leaves_the_children_running(side_effects):
    GATE.clear()
    handle = durable.start(parent, "o-nokids", run_id="o-nokids")
    child = _child_of("o-nokids")
    wait_for(lambda: durable.get(child.id).status() == "RUNNING", 10, "the child to run")
    operations.cancel("o-nokids", reason="parent only", children=False)
    assert handle.status() == "CANCELLED"
    assert Run.objects.get(id=child.id).status == RunStatus.RUNNING
    GATE.set()
    assert durable.get(child.id).result(timeout=10) == "child-finished"
    assert AuditEntry.objects.get(action="cancel").detail["children"] is False
    operations.resume("o-nokids")  # the parent replays its child's result
    assert handle.result(timeout=10) == "parent got child-finished"


def test_delete_removes_a_finished_run_and_everything_recorded_for_it(finished_run):
    finished_run("o-del")
    durable.send("o-del", "late", topic="t")
    Event.objects.create(run_id="o-del", key="k", value=1)
    assert operations.delete("o-del", actor="alice", reason="GDPR request") == "o-del"
    assert not Run.objects.filter(id="o-del").exists()
    assert not Step.objects.filter(run_id="o-del").exists()
    assert not Message.objects.filter(run_id="o-del").exists()
    entry = AuditEntry.objects.get(action="delete")
    assert (entry.actor, entry.run_ids, entry.detail["reason"]) == (
        "alice",
        ["o-del"],
        "GDPR request",
    )


def test_delete_refuses_an_unfinished_run_with_the_reason(side_effects, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "o-live", ["a"], run_id="o-live")
    with pytest.raises(OperationRefused, match="it is ENQUEUED; only finished runs.*cancel it"):
        operations.delete("o-live")
    assert Run.objects.filter(id="o-live").exists()


def test_delete_takes_a_runs_children_along_and_refuses_a_child_alone(side_effects):
    GATE.set()
    durable.run(parent, "o-tree", run_id="o-tree")
    child_id = Run.objects.get(parent_id="o-tree").id
    with pytest.raises(OperationRefused, match="child of run o-tree, which is kept"):
        operations.delete(child_id)
    result = operations.delete(["o-tree"])
    assert result.done == {"o-tree": "o-tree"} and result.cascaded == [child_id]
    assert not Run.objects.filter(id__in=["o-tree", child_id]).exists()


def test_delete_refuses_a_finished_parent_whose_child_still_runs(side_effects):
    GATE.clear()
    durable.start(parent, "o-busy", run_id="o-busy")
    child = _child_of("o-busy")
    operations.cancel("o-busy", children=False)
    with pytest.raises(OperationRefused, match=f"descendant run {child.id} has not finished"):
        operations.delete("o-busy")
    GATE.set()
    assert Run.objects.filter(id="o-busy").exists()


def test_delete_keeps_forks_and_unlinks_them(finished_run):
    finished_run("o-origin")
    fork_id = operations.fork("o-origin", from_step=1)
    durable.get(fork_id).result(timeout=10)
    operations.delete("o-origin")
    fork = Run.objects.get(id=fork_id)
    assert fork.forked_from_id is None
    assert Step.objects.filter(run_id=fork_id).count() == 2


def test_deleting_a_run_frees_its_id_for_a_new_run(finished_run):
    finished_run("o-again", ["x"])
    operations.delete("o-again")
    assert durable.run(ledger, "o-again", ["y"], run_id="o-again") == ["y"]


@settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.booleans()))
def test_any_new_run_id_is_accepted_or_refused_with_a_durable_error(transactional_db, value):
    with pytest.raises((InvalidRunIdError, InvalidArgumentError, RunNotFoundError)):
        operations.restart("o-missing-run", new_run_id=value)  # no such run: refused either way


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command("durable", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _refused(*args: str) -> str:
    """What a refused command prints; it exits with status 1."""
    err = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("durable", *args, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_the_cli_forks_and_restarts_onto_a_chosen_id_queue_and_timeout(finished_run):
    finished_run("o-cli")
    printed = _call("fork", "o-cli", "--from-step", "1", "--run-id", "o-cli-f", "--queue", "q2")
    assert "forked o-cli -> o-cli-f" in printed
    # forked already, so superseded: the CLI restarts it only when asked to
    again = ("--include-superseded",)
    assert "o-cli-r" in _call("restart", "o-cli", "--run-id", "o-cli-r", "--timeout", "90", *again)
    assert Run.objects.get(id="o-cli-f").queue == "q2"
    restarted = Run.objects.get(id="o-cli-r")
    assert (
        timedelta(seconds=85) < restarted.deadline_at - restarted.created_at < timedelta(seconds=95)
    )
    assert "is taken" in _refused("restart", "o-cli", "--run-id", "o-cli-f", *again)


def test_the_cli_cancels_without_children_and_deletes(side_effects, finished_run):
    GATE.clear()
    durable.start(parent, "o-cli-tree", run_id="o-cli-tree")
    child = _child_of("o-cli-tree")
    wait_for(lambda: durable.get(child.id).status() == "RUNNING", 10, "the child to run")
    assert "cancelled o-cli-tree" in _call("cancel", "o-cli-tree", "--no-children")
    assert Run.objects.get(id=child.id).status == RunStatus.RUNNING
    GATE.set()
    durable.get(child.id).result(timeout=10)
    printed = _call("delete", "o-cli-tree", "--reason", "cleanup")
    assert "deleted o-cli-tree" in printed and child.id in printed
    assert "no such run" in _refused("delete", "o-cli-tree")


@pytest.mark.parametrize("action", ["restart", "fork"])
def test_a_generator_of_one_run_id_with_a_new_run_id_derives_that_run(finished_run, action):
    original = finished_run(f"o-gen-{action}")
    ids = (run_id for run_id in [original])
    options = {"from_step": 1} if action == "fork" else {}
    result = getattr(operations, action)(ids, new_run_id=f"o-gen-{action}-2", **options)
    assert result.done == {original: f"o-gen-{action}-2"}
    assert Run.objects.filter(id=f"o-gen-{action}-2").exists()
    assert AuditEntry.objects.filter(action=action, run_ids=[original]).exists()
