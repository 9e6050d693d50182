"""Hold: an operator stops a run at its next step boundary and it waits, visibly, until
released; then it goes on from where it was, each step run once.

The hold rides on the checkpoint statement (it returns the run's status, HELD when held),
so a held run costs no extra round trip per step; claims skip held runs.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

import durable
from durable import operations
from durable.core import _runtime as runtime
from durable.errors import OperationRefused
from durable.models import AuditEntry, Run, RunStatus
from tests.conftest import record_side_effect
from tests.engine import async_workflows as wf
from tests.engine.processes import wait_for
from tests.engine.test_async import statements_to_execute

_in_step: dict[str, threading.Event] = {}  # run -> set when its first step is running
_go_on: dict[str, threading.Event] = {}  # run -> opened by the test to let that step end


@durable.step()
def gated_step(run_id: str) -> str:
    record_side_effect(run_id, "first")
    _in_step.setdefault(run_id, threading.Event()).set()
    _go_on.setdefault(run_id, threading.Event()).wait(20)
    return "first"


@durable.step()
def plain_step(run_id: str, label: str) -> str:
    record_side_effect(run_id, label)
    return label


@durable.workflow(name="tests.hold.three_steps")
def three_steps(run_id: str) -> str:
    gated_step(run_id)
    plain_step(run_id, "second")
    plain_step(run_id, "third")
    return "done"


_executions: dict[str, int] = {}  # run -> times the transaction step's body ran


@durable.transaction()
def gated_transaction(run_id: str) -> str:
    _executions[run_id] = _executions.get(run_id, 0) + 1
    record_side_effect(run_id, "first")
    _in_step.setdefault(run_id, threading.Event()).set()
    _go_on.setdefault(run_id, threading.Event()).wait(20)
    return "first"


@durable.workflow(name="tests.hold.transaction_then_step")
def transaction_then_step(run_id: str) -> str:
    gated_transaction(run_id)
    plain_step(run_id, "second")
    return "done"


def test_a_transaction_step_in_flight_when_held_keeps_its_commit_and_runs_once(side_effects):
    run_id = "hold-transaction"
    _go_on.setdefault(run_id, threading.Event())
    durable.start(transaction_then_step, run_id, run_id=run_id)
    assert _in_step.setdefault(run_id, threading.Event()).wait(20), "the step never started"

    operations.hold(run_id, reason="hold mid-transaction", actor="oncall")
    _go_on[run_id].set()  # the transaction commits its effect and checkpoint together

    wait_for(lambda: Run.objects.get(id=run_id).status == RunStatus.ENQUEUED, 20, "held stop")
    assert Run.objects.get(id=run_id).steps_done == 1
    operations.release(run_id, reason="go on", actor="oncall")
    wait_for(lambda: Run.objects.get(id=run_id).status == RunStatus.SUCCESS, 20, "the finish")
    assert _executions[run_id] == 1
    assert side_effects(run_id) == {"first": 1, "second": 1}


def test_a_held_run_starts_no_other_step_until_released_then_finishes_each_step_once(
    side_effects,
):
    run_id = "hold-in-flight"
    _go_on.setdefault(run_id, threading.Event())
    durable.start(three_steps, run_id, run_id=run_id)
    assert _in_step.setdefault(run_id, threading.Event()).wait(20), "the step never started"

    assert operations.hold(run_id, reason="payment provider down", actor="oncall") == run_id
    _go_on[run_id].set()  # the step in flight ends and keeps its checkpoint

    wait_for(lambda: Run.objects.get(id=run_id).status == RunStatus.ENQUEUED, 20, "held stop")
    time.sleep(1.5)  # time enough for a next step to start, if the hold let it
    run = Run.objects.get(id=run_id)
    assert (run.status, run.hold_reason) == (RunStatus.ENQUEUED, "payment provider down")
    assert run.held_at is not None and run.steps_done == 1
    assert side_effects(run_id) == {"first": 1}

    assert operations.release(run_id, reason="provider back", actor="oncall") == run_id
    wait_for(lambda: Run.objects.get(id=run_id).status == RunStatus.SUCCESS, 20, "the finish")
    assert side_effects(run_id) == {"first": 1, "second": 1, "third": 1}
    assert Run.objects.get(id=run_id).held_at is None
    actions = list(AuditEntry.objects.filter(run_ids__contains=[run_id])
                   .order_by("id").values_list("action", "actor"))  # fmt: skip
    assert actions == [("hold", "oncall"), ("release", "oncall")]


_provider_back: dict[str, threading.Event] = {}  # run -> set by the test: the step succeeds
_failed_once: dict[str, threading.Event] = {}  # run -> set once an attempt has failed


@durable.step(retries=30, retry_delay=0.2)
def hammering_step(run_id: str) -> str:
    record_side_effect(run_id, "attempt")
    if not _provider_back.setdefault(run_id, threading.Event()).is_set():
        _failed_once.setdefault(run_id, threading.Event()).set()
        raise ConnectionError("payment provider down")
    return "paid"


@durable.workflow(name="tests.hold.retrying")
def retrying(run_id: str) -> str:
    return hammering_step(run_id)


@durable.step(retries=30, retry_delay=0.2)
async def hammering_async_step(run_id: str) -> str:
    return await sync_to_async(hammering_step.__wrapped__)(run_id)


@durable.workflow(name="tests.hold.retrying_async")
async def retrying_async(run_id: str) -> str:
    return await hammering_async_step(run_id)


@pytest.mark.parametrize("workflow", [retrying, retrying_async], ids=["sync", "async"])
def test_a_held_run_starts_no_more_retry_attempts_of_a_failing_step_until_released(
    side_effects, workflow
):
    """The hold is for "stop hammering the payment provider now": a step failing and
    retrying writes no checkpoint, yet its next attempt must not start once the hold is in."""
    run_id = f"hold-retrying-{workflow.__name__}"
    durable.start(workflow, run_id, run_id=run_id)
    assert _failed_once.setdefault(run_id, threading.Event()).wait(20), "no attempt failed"

    operations.hold(run_id, reason="stop hammering the provider", actor="oncall")
    attempts_at_hold = side_effects(run_id)["attempt"]
    wait_for(lambda: Run.objects.get(id=run_id).status == RunStatus.ENQUEUED, 5, "held stop")
    time.sleep(1.0)  # five backoffs: time enough for more attempts, if the hold let them
    assert side_effects(run_id)["attempt"] <= attempts_at_hold + 1  # at most the one in flight
    held = side_effects(run_id)["attempt"]
    assert Run.objects.get(id=run_id).held_at is not None

    _provider_back[run_id].set()
    operations.release(run_id, reason="provider back", actor="oncall")
    wait_for(lambda: Run.objects.get(id=run_id).status == RunStatus.SUCCESS, 20, "the finish")
    assert durable.get(run_id).result(timeout=5) == "paid"
    assert side_effects(run_id)["attempt"] == held + 1


def test_a_run_held_while_enqueued_is_never_claimed_until_released(side_effects, settings):
    settings.DURABLE_EXECUTOR = "external"  # this test executes the run itself
    handle = durable.start(three_steps, "hold-enqueued", run_id="hold-enqueued")
    _go_on.setdefault("hold-enqueued", threading.Event()).set()
    operations.hold(["hold-enqueued"], reason="not yet")

    runtime.execute_run("hold-enqueued", "here", ["tests.hold.three_steps"], threading.Event())
    assert handle.status() == RunStatus.ENQUEUED and side_effects("hold-enqueued") == {}

    operations.release("hold-enqueued")
    runtime.execute_run("hold-enqueued", "here", ["tests.hold.three_steps"], threading.Event())
    assert handle.status() == RunStatus.SUCCESS
    assert side_effects("hold-enqueued") == {"first": 1, "second": 1, "third": 1}


def test_releasing_a_run_that_is_not_held_is_refused_clearly(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(three_steps, "not-held", run_id="not-held")
    with pytest.raises(OperationRefused, match="it is not held; only a held run can be released"):
        operations.release("not-held")
    result = operations.release(["not-held", "no-such-run"])
    assert result.refused == {
        "not-held": "it is not held; only a held run can be released",
        "no-such-run": "no such run",
    }


def test_holding_a_finished_run_or_a_held_one_is_refused_clearly(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    Run.objects.create(id="finished", workflow="tests.hold.three_steps", input={"args": []},
                       status=RunStatus.SUCCESS)  # fmt: skip
    durable.start(three_steps, "held-twice", run_id="held-twice")
    operations.hold("held-twice")
    result = operations.hold(["finished", "held-twice"], reason="incident")
    assert result.refused == {
        "finished": "it is SUCCESS; only enqueued or running runs can be held",
        "held-twice": "it is held already",
    }
    assert AuditEntry.objects.filter(action="hold").count() == 2


def test_a_checkpoint_is_still_one_statement(transactional_db, settings, monkeypatch):
    settings.DURABLE_EXECUTOR = "external"
    ten = statements_to_execute(wf.sync_chain, 10, monkeypatch)
    assert statements_to_execute(wf.sync_chain, 20, monkeypatch) - ten == 10


def _cli(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.suppress(SystemExit):  # a command refusing every run exits 1
        call_command("durable", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_cli_holds_and_releases_runs_with_a_reason(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    for run_id in ("cli-1", "cli-2"):
        durable.start(three_steps, run_id, run_id=run_id)
    out, _ = _cli("hold", "cli-1", "cli-2", "--reason", "incident 42", "--actor", "ops")
    assert out.splitlines() == ["held cli-1", "held cli-2"]
    assert set(Run.objects.values_list("hold_reason", flat=True)) == {"incident 42"}
    assert AuditEntry.objects.get(action="hold").actor == "ops"

    out, err = _cli("release", "cli-1", "--reason", "fixed")
    assert out.strip() == "released cli-1" and not err
    _, err = _cli("release", "cli-1")
    assert err.strip() == "refused cli-1: it is not held; only a held run can be released"
    assert Run.objects.get(id="cli-2").held_at is not None


def test_durable_list_shows_held_runs_as_held_and_filters_them(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    for run_id in ("list-1", "list-2"):
        durable.start(three_steps, run_id, run_id=run_id)
    _cli("hold", "list-1", "--reason", "incident 42")
    out, _ = _cli("list")
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "ENQUEUED (held)" in rows["list-1"] and "held" not in rows["list-2"]
    out, _ = _cli("list", "--held")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["list-1"]
