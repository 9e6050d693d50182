"""A workflow that returns right after its last step writes that step's checkpoint and its
own end in one statement (durable.core._last_step); the checkpoint still stands alone when
any of the workflow's code runs after the step, in a transaction step, and for a run that
was cancelled or taken over meanwhile."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.utils import timezone

import durable
from durable import operations
from durable.core import _runtime as runtime
from durable.core import store
from durable.errors import RunCancelledError, SerializationError
from durable.models import Run, RunStatus, Step
from tests.engine.processes import wait_for
from tests.engine.test_hot_path_statements import _written_and_summed
from tests.engine.workflows import txn_note


@durable.step(name="tests.last.double")
def double(x: int) -> int:
    return x * 2


@durable.step(name="tests.last.slow")
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "slow"


@durable.workflow(name="tests.last.returns_the_step")
def returns_the_step(x: int) -> int:
    return double(x)


@durable.workflow(name="tests.last.then_a_constant")
def then_a_constant(x: int) -> bool:
    double(double(x))
    return True


@durable.workflow(name="tests.last.then_a_local")
def then_a_local(x: int) -> int:
    doubled = double(x)
    return doubled


@durable.workflow(name="tests.last.code_after")
def code_after(x: int) -> str:
    return str(double(x))


@durable.workflow(name="tests.last.transaction")
def ends_in_a_transaction(run_id: str) -> str:
    return txn_note(run_id, "last")


@durable.workflow(name="tests.last.slow")
def returns_a_slow_step(seconds: float) -> str:
    return slow(seconds)


@pytest.fixture
def writes(monkeypatch):
    """Counts of the run-ending store writes made by the executor's threads."""
    counts: Counter[str] = Counter()
    for name in ("record_step", "finish_run", "record_step_and_finish"):
        real = getattr(store, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            counts[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    return counts


@pytest.mark.parametrize(
    ("workflow", "steps", "output"),
    [(returns_the_step, 1, 6), (then_a_constant, 2, True), (then_a_local, 1, 6)],
)
def test_a_workflow_returning_right_after_its_step_ends_in_that_steps_statement(
    side_effects, writes, workflow, steps, output
):
    handle = durable.start(workflow, 3)
    assert handle.result(timeout=10) == output
    assert writes == Counter(record_step=steps - 1, record_step_and_finish=1)
    run = Run.objects.get(id=handle.run_id)
    assert run.status == RunStatus.SUCCESS and run.output == output
    last = Step.objects.get(run_id=run.id, position=steps - 1)
    assert (last.status, last.output, last.name) == (
        "SUCCESS",
        6 if steps == 1 else 12,
        "tests.last.double",
    )
    written, summed = _written_and_summed(run.id)
    assert written[1] == summed[1] == steps
    assert written[0] == pytest.approx(summed[0])


def test_a_fork_of_such_a_run_replays_the_recorded_step(side_effects):
    handle = durable.start(returns_the_step, 4)
    assert handle.result(timeout=10) == 8
    forked = operations.fork(handle.run_id, from_step=1)
    assert durable.get(forked).result(timeout=10) == 8
    assert Step.objects.get(run_id=forked, position=0).output == 8


def test_code_after_the_last_step_has_its_checkpoint_written_at_once(side_effects, writes):
    assert durable.start(code_after, 3).result(timeout=10) == "6"
    assert writes == {"record_step": 1, "finish_run": 1}


def test_a_transaction_step_keeps_its_checkpoint_in_its_transaction(side_effects, writes):
    assert durable.start(ends_in_a_transaction, "last-txn").result(timeout=10) == "last"
    assert writes == {"record_step": 1, "finish_run": 1}
    assert side_effects("last-txn") == {"last": 1}


def test_a_cancel_during_the_last_step_keeps_its_checkpoint_and_the_run_cancelled(
    side_effects, writes
):
    handle = durable.start(returns_a_slow_step, 1.0, run_id="last-cancelled")
    wait_for(lambda: Run.objects.get(id="last-cancelled").status == "RUNNING", 10, "a start")
    time.sleep(0.2)  # inside the step
    operations.cancel("last-cancelled")
    with pytest.raises(RunCancelledError):
        handle.result(timeout=10)
    wait_for(lambda: writes["record_step_and_finish"] == 1, 10, "the step's end")
    wait_for(lambda: Step.objects.filter(run_id="last-cancelled").exists(), 10, "the checkpoint")
    assert Run.objects.get(id="last-cancelled").status == RunStatus.CANCELLED
    assert Step.objects.get(run_id="last-cancelled", position=0).output == "slow"


def test_a_run_taken_over_during_its_last_step_gets_neither_write(side_effects, writes):
    handle = durable.start(returns_a_slow_step, 1.0, run_id="last-taken")
    wait_for(lambda: Run.objects.get(id="last-taken").status == "RUNNING", 10, "a start")
    Run.objects.filter(id="last-taken").update(executor_id="thread:new-owner")
    wait_for(lambda: writes["record_step_and_finish"] == 1, 10, "the step's end")
    time.sleep(0.2)
    run = Run.objects.get(id="last-taken")
    assert (run.status, run.executor_id) == (RunStatus.RUNNING, "thread:new-owner")
    assert not Step.objects.filter(run_id="last-taken").exists()
    assert handle.run_id == "last-taken"


def test_a_workflow_that_fails_after_all_has_the_held_checkpoint_written_first(
    side_effects, writes, monkeypatch
):
    """Should the run end otherwise after the checkpoint was held back (its output refused
    at the end, or a non-determinism error it had hidden), the checkpoint is written alone
    first, as it would have been when its step returned, and then the run's error."""
    real_dumps = runtime.dumps

    def refuses_the_run_output(value, where):
        if where.endswith(" output") and " step " not in where:  # the run's, not a step's
            raise SerializationError(f"{where}: refused by the test")
        return real_dumps(value, where=where)

    monkeypatch.setattr(runtime, "dumps", refuses_the_run_output)
    handle = durable.start(returns_the_step, 5, run_id="last-refused")
    with pytest.raises(SerializationError):
        handle.result(timeout=10)
    assert writes == Counter(record_step=1, finish_run=1)
    assert Step.objects.get(run_id="last-refused", position=0).output == 10
    assert Run.objects.get(id="last-refused").status == RunStatus.ERROR


def test_a_position_already_recorded_refuses_both_writes(side_effects):
    """As record_step refuses a checkpoint at a position that holds one (another owner's,
    or ours after a lost reply): the run does not end either."""
    created = store.insert_run(
        run_id="last-taken-position", workflow="tests.last.returns_the_step", version="",
        input='{"args": [1], "kwargs": {}}', tags="{}", queue="default", priority=0,
        timeout=None, due_at=None, parent_deadline=None, max_recoveries=None, dedup_id=None,
        parent_id=None, forked_from_id=None, forked_from_step=None,
        executor_id="thread:test-owner", lease=30.0,
    )  # fmt: skip
    assert created is not None and created.claimed
    now = timezone.now()
    step = {"run_id": "last-taken-position", "executor_id": "thread:test-owner",
            "position": 0, "name": "tests.last.double", "input": None, "input_hash": "",
            "output": "2", "attempts": 1, "started_at": now, "finished_at": now,
            "duration_ms": 0.1}  # fmt: skip
    assert store.record_step(kind="step", status="SUCCESS", **step) == "RUNNING"
    assert store.record_step_and_finish(**step, cpu_ms=0.0, run_output="2") == (None, False)
    assert Run.objects.get(id="last-taken-position").status == RunStatus.RUNNING


def _loop_of_steps(count: int) -> int:
    for _ in range(count):
        len("a step")
    return count


def _returns_a_step() -> int:
    return len("a step")


def test_a_workflow_without_a_call_before_a_return_is_told_apart_from_its_code_alone():
    """Checked once per code object, so a loop's steps never look for the workflow's frame."""
    from durable.core import _last_step

    assert not _last_step._may_return_next(_loop_of_steps.__code__)
    assert _last_step._may_return_next(_returns_a_step.__code__)
