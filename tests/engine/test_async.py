"""`async def` workflows and steps: checkpointed, replayed and recovered as sync ones are."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.http import JsonResponse
from django.test import AsyncClient
from django.urls import path
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import durable
from durable import operations
from durable.core import _runtime as runtime
from durable.core.store import _execute
from durable.debugging.replay import replay_run
from durable.errors import DurableError, NonDeterminismError, StepTimeoutError
from durable.models import Attempt, Run, RunStatus, Step
from tests.engine import async_workflows as wf
from tests.engine.processes import start_worker, steps_recorded, stop, wait_for
from tests.engine.test_celery_inprocess import memory_worker  # noqa: F401 - a fixture
from tests.engine.workflows import Boom
from tests.tiers import examples


@pytest.fixture(autouse=True)
def clean_delays():
    yield
    wf.DELAYS.clear()
    wf.FAILURES.clear()
    wf.INPUTS.clear()


def off_the_test_thread(func, *args, **kwargs):
    """`func(*args, **kwargs)` on a thread of its own, with its own connection: a session
    fixture may leave an event loop running on the test thread (Playwright's sync API in the
    e2e tests does), and asgiref refuses to block a thread whose loop is running."""
    box = {}

    def body():
        try:
            box["value"] = func(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(60)
    if "error" in box:
        raise box["error"]
    return box["value"]


def entries(run_id: str) -> list[tuple[int, str, str, object]]:
    return list(
        Step.objects.filter(run_id=run_id)
        .order_by("position")
        .values_list("position", "kind", "name", "output")
    )


def test_an_async_workflow_checkpoints_awaited_async_and_sync_steps_in_order(side_effects):
    assert durable.run(wf.pipeline, "as-1", run_id="as-1") == [
        "first!", 3, ["a!", "b!", "c!"], "last!",
    ]  # fmt: skip
    assert entries("as-1") == [
        (0, "step", "tests.async.note", "first!"),
        (1, "step", "tests.async.sync_add", 3),
        (2, "step", "tests.async.note", "a!"),
        (3, "step", "tests.async.note", "b!"),
        (4, "step", "tests.async.note", "c!"),
        (5, "step", "tests.async.note", "last!"),
    ]
    assert side_effects("as-1") == {"first": 1, "a": 1, "b": 1, "c": 1, "last": 1}


def test_gather_records_positions_at_call_time_though_the_steps_finish_in_reverse(
    side_effects,
):
    wf.DELAYS.update({"a": 0.4, "b": 0.2, "c": 0.0})
    durable.run(wf.pipeline, "as-2", run_id="as-2")
    finished = dict(
        Step.objects.filter(run_id="as-2", position__in=[2, 3, 4]).values_list(
            "position", "finished_at"
        )
    )
    assert finished[4] < finished[3] < finished[2]  # c finished first, yet sits at 4
    assert [output for *_, output in entries("as-2")[2:5]] == ["a!", "b!", "c!"]


def test_a_fork_mid_gather_replays_each_recorded_output_to_its_own_call(side_effects):
    wf.DELAYS.update({"a": 0.3, "b": 0.15, "c": 0.0})
    durable.run(wf.pipeline, "as-3", run_id="as-3")
    wf.DELAYS.update({"a": 0.0, "b": 0.0, "c": 0.3})  # the opposite order this time
    fork_id = operations.fork("as-3", from_step=3)  # reuses first, add and a
    assert durable.get(fork_id).result(timeout=20) == ["first!", 3, ["a!", "b!", "c!"], "last!"]
    assert side_effects("as-3") == {"first": 1, "a": 1, "b": 2, "c": 2, "last": 2}
    assert entries(fork_id) == entries("as-3")


# what PostgreSQL can store (no NUL, no lone surrogate: refused at the call, see serialization)
STORABLE_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=8
)


@hypothesis_settings(
    max_examples=examples(15),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | STORABLE_TEXT,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(STORABLE_TEXT, children, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_a_replayed_async_step_returns_exactly_what_the_first_run_returned(transactional_db, value):
    first = durable.run(wf.roundtrip, value)
    run_id = Run.objects.filter(workflow="tests.async.roundtrip").latest("created_at").id
    replayed = durable.get(operations.fork(run_id, from_step=1)).result(timeout=20)
    assert json.dumps(replayed) == json.dumps(first)
    assert first == json.loads(json.dumps(value))


def test_a_changed_async_step_input_on_replay_is_a_nondeterminism_error(side_effects):
    wf.INPUTS["as-nd"] = 1010
    handle = durable.start(wf.echo_then_fail, "as-nd", run_id="as-nd")
    with pytest.raises(Boom):
        handle.result(timeout=10)
    wf.INPUTS["as-nd"] = 2020  # the code now passes another input at step 0
    operations.resume("as-nd")
    with pytest.raises(NonDeterminismError, match="another input") as raised:
        handle.result(timeout=10)
    assert "1010" in str(raised.value) and "2020" in str(raised.value)


def test_a_local_replay_of_an_async_run_answers_every_step_from_its_history(side_effects):
    durable.run(wf.pipeline, "as-lr", run_id="as-lr")
    report = off_the_test_thread(replay_run, "as-lr")
    assert report.outcome == "completed", report.message
    assert [position for position, _ in report.replayed] == [0, 1, 2, 3, 4, 5]
    assert side_effects("as-lr") == {"first": 1, "a": 1, "b": 1, "c": 1, "last": 1}


def test_a_local_replay_of_a_failed_async_run_stops_at_the_recorded_failure(transactional_db):
    with pytest.raises(Boom):
        durable.run(wf.fails, "bad input", run_id="as-lf")
    report = off_the_test_thread(replay_run, "as-lf")
    assert (report.outcome, report.position) == ("failure", 0)
    assert report.call is not None and report.call.args == ("bad input",)


def statements_to_execute(workflow, count: int, monkeypatch) -> int:
    """Statements the run's own thread sends while executing `workflow(count)` here."""
    sent = []
    for name in ("_execute_once", "_prepared_once"):
        real = getattr(_execute, name)

        def counted(*args, real=real, **kwargs):
            sent.append(threading.current_thread())
            return real(*args, **kwargs)

        monkeypatch.setattr(_execute, name, counted)
    handle = durable.start(workflow, count)

    def execute_here() -> threading.Thread:
        runtime.execute_run(handle.run_id, "here", [workflow.workflow_name], threading.Event())
        return threading.current_thread()

    run_thread = off_the_test_thread(execute_here)
    monkeypatch.undo()
    assert handle.status() == "SUCCESS"
    return sum(thread is run_thread for thread in sent)


def test_an_async_step_checkpoint_is_one_statement_as_a_sync_steps_is(
    transactional_db, settings, monkeypatch
):
    settings.DURABLE_EXECUTOR = "external"  # this test executes the runs itself
    sync_10 = statements_to_execute(wf.sync_chain, 10, monkeypatch)
    assert statements_to_execute(wf.sync_chain, 20, monkeypatch) - sync_10 == 10
    assert statements_to_execute(wf.chain, 10, monkeypatch) == sync_10
    assert statements_to_execute(wf.chain, 20, monkeypatch) - sync_10 == 10
    assert statements_to_execute(wf.gathered_chain, 20, monkeypatch) - sync_10 == 10


def test_a_step_called_inside_an_async_step_is_plain_while_the_workflow_beside_it_checkpoints(
    transactional_db,
):
    assert durable.run(wf.nested_and_beside, run_id="as-nb") == [2, "beside"]
    names = [name for _, _, name, _ in entries("as-nb")]
    assert names == ["tests.async.calls_a_step_inside", "tests.async.echo"]


def test_a_failing_async_step_is_retried_and_succeeds(side_effects):
    wf.FAILURES["as-r1"] = 2
    assert durable.run(wf.retrying, "as-r1", run_id="as-r1") == "ok"
    step = Step.objects.get(run_id="as-r1")
    assert (step.status, step.attempts) == ("SUCCESS", 3)
    assert side_effects("as-r1") == {"flaky-attempt": 3}


def test_an_async_step_out_of_retries_fails_the_run_with_its_own_error_rebuilt(side_effects):
    wf.FAILURES["as-r2"] = 5
    with pytest.raises(Boom, match="attempt failed"):
        durable.run(wf.retrying, "as-r2", run_id="as-r2")
    run = Run.objects.get(id="as-r2")
    assert (run.status, run.error_type) == (RunStatus.ERROR, "tests.engine.workflows.Boom")
    assert Step.objects.get(run_id="as-r2").attempts == 3


def test_sleep_async_is_a_recorded_sleep_entry(side_effects):
    assert durable.run(wf.sleep_then_note, "as-s1", 0.2, run_id="as-s1") == "after-sleep!"
    kinds = [(kind, name) for _, kind, name, _ in entries("as-s1")]
    assert kinds == [("sleep", "durable.sleep"), ("step", "tests.async.note")]
    assert Step.objects.get(run_id="as-s1", position=0).output["seconds"] == 0.2


def test_a_long_sleep_async_parks_the_run_and_it_wakes_up_to_finish(side_effects, settings):
    settings.DURABLE_SLEEP_INLINE_SECONDS = 0.1
    settings.DURABLE_POLL_SECONDS = 0.1
    handle = durable.start(wf.sleep_then_note, "as-s2", 1.0, run_id="as-s2")
    wait_for(lambda: handle.status() == "ENQUEUED" and steps_recorded("as-s2") == 1, 10, "park")
    assert handle.result(timeout=15) == "after-sleep!"
    assert side_effects("as-s2") == {"after-sleep": 1}


def test_recv_async_takes_a_message_once_and_records_a_timeout(transactional_db):
    handle = durable.start(wf.receiver, 5.0, run_id="as-m1")
    durable.send("as-m1", {"ok": True})
    assert handle.result(timeout=15) == [{"ok": True}, None]
    assert [(kind, output) for _, kind, _, output in entries("as-m1")] == [
        ("recv", {"ok": True}),
        ("recv", None),
    ]


def test_an_async_workflow_starts_a_child_awaits_it_and_publishes_an_event(side_effects):
    assert durable.run(wf.parent, "as-c1", run_id="as-c1") == "child-ran!"
    kinds = [kind for _, kind, _, _ in entries("as-c1")]
    assert kinds == ["child", "wait", "set_event"]  # as the sync primitives record them
    assert durable.get_event("as-c1", "child", timeout=1) == "child-ran!"
    assert Run.objects.get(id="as-c1~0").parent_id == "as-c1"


def test_children_awaited_side_by_side_return_their_results_in_call_order(side_effects):
    assert durable.run(wf.fan_out, "as-fo", 3, run_id="as-fo") == ["child-ran!"] * 3
    assert [kind for _, kind, _, _ in entries("as-fo")] == ["child"] * 3
    assert side_effects() == {"child-ran": 3}
    children = [Run.objects.get(id=f"as-fo~{i}").input["args"] for i in range(3)]
    assert children == [["as-fo-0"], ["as-fo-1"], ["as-fo-2"]]  # numbered in call order


def test_a_workflow_called_inside_an_async_workflow_is_an_awaitable_child_started_at_the_call(
    side_effects,
):
    assert durable.run(wf.calls_children, "as-cc", run_id="as-cc") == ["child-ran!", 6]
    assert [name for _, _, name, _ in entries("as-cc")] == ["tests.async.child", "tests.sum_three"]


def test_an_async_workflow_called_inside_a_sync_workflow_is_a_child_waited_for(side_effects):
    assert durable.run(wf.sync_parent_of_async, "as-sp", run_id="as-sp") == "child-ran!"
    assert [kind for _, kind, _, _ in entries("as-sp")] == ["child"]


def test_an_async_workflow_called_from_async_code_is_awaited(side_effects):
    assert off_the_test_thread(async_to_sync(wf.async_child), "as-aw2") == "child-ran!"


def test_sleep_async_runs_beside_a_step_and_takes_its_position_at_the_call(side_effects):
    started = time.monotonic()
    result = durable.run(wf.sleep_beside_a_step, "as-sb", 1.0, run_id="as-sb")
    assert result == [None, "beside!", "after!"]
    assert time.monotonic() - started < 1.8  # side by side, not 1.0 + 1.0
    assert [kind for _, kind, _, _ in entries("as-sb")] == ["sleep", "step", "step"]


def test_a_parent_awaiting_slow_children_parks_and_resumes_without_restarting_them(
    side_effects, settings
):
    settings.DURABLE_SLEEP_INLINE_SECONDS = 0.1
    settings.DURABLE_POLL_SECONDS = 0.1
    wf.DELAYS["child-ran"] = 1.0
    handle = durable.start(wf.fan_out, "as-fp", 2, run_id="as-fp")
    wait_for(lambda: handle.status() == "ENQUEUED" and steps_recorded("as-fp") == 2, 10, "park")
    assert handle.result(timeout=20) == ["child-ran!"] * 2
    assert side_effects() == {"child-ran": 2}


def test_branches_whose_step_order_is_timing_fail_a_replay_instead_of_mixing_outputs(
    side_effects,
):
    wf.DELAYS["s1"] = 0.4  # s3 ends first, so s4 is called (and numbered) before s2
    durable.run(wf.two_sequences, "as-2s", run_id="as-2s")
    assert [output for *_, output in entries("as-2s")] == ["s1!", "s3!", "s4!", "s2!"]
    fork_id = operations.fork("as-2s", from_step=4)  # every step replayed: no timing now
    with pytest.raises(NonDeterminismError, match="another input"):
        durable.get(fork_id).result(timeout=20)


@durable.workflow(name="tests.async.step_during_a_wait")
async def step_during_a_wait() -> None:
    async def later() -> str:
        await asyncio.sleep(0)
        return await wf.echo(1)

    await asyncio.gather(durable.recv_async("never", timeout=0.5), later())


def test_a_step_called_while_a_wait_is_in_progress_is_refused_with_the_reason(
    transactional_db,
):
    with pytest.raises(DurableError, match="while durable.recv_async\\(\\) is in progress"):
        durable.run(step_during_a_wait)


def test_a_sync_primitive_in_an_async_workflow_names_its_async_twin(transactional_db):
    with pytest.raises(DurableError, match="durable.sleep_async"):
        durable.run(wf.sync_sleep)


def test_an_async_transaction_is_refused_at_decoration():
    with pytest.raises(TypeError, match="plain `def`"):

        @durable.transaction()
        async def not_allowed() -> None: ...


@durable.workflow(name="tests.async.sync_parent")
def sync_parent() -> None:
    wf.echo(1)


def test_an_async_step_called_from_a_sync_workflow_says_to_make_it_async(transactional_db):
    with pytest.raises(TypeError, match="make the workflow `async def`"):
        durable.run(sync_parent)


def test_an_async_step_outside_a_workflow_is_a_plain_coroutine():
    assert off_the_test_thread(asyncio.run, wf.echo({"k": 1})) == {"k": 1}


def test_cancelling_an_async_run_stops_it_before_its_next_step(side_effects):
    handle = durable.start(wf.slow, "as-x1", 50, 0.1, run_id="as-x1")
    wait_for(lambda: steps_recorded("as-x1") >= 2, 10, "two steps")
    operations.cancel("as-x1", reason="test")
    wait_for(lambda: handle.status() == "CANCELLED", 5, "the cancel")
    done = steps_recorded("as-x1")
    assert done < 10
    assert sum(side_effects("as-x1").values()) <= done + 1  # the step in flight finishes


def test_a_cancel_reaches_an_async_step_waiting_to_retry_at_once(transactional_db):
    handle = durable.start(wf.backing_off, run_id="as-x2")
    wait_for(lambda: Attempt.objects.filter(run_id="as-x2").exists(), 10, "a failure")
    cancelled_at = time.monotonic()
    operations.cancel("as-x2")
    wait_for(lambda: handle.status() == "CANCELLED", 5, "the cancel")
    assert time.monotonic() - cancelled_at < 3  # not the 30 s retry delay
    assert Attempt.objects.filter(run_id="as-x2").count() == 1


def test_an_async_step_past_its_timeout_fails_with_step_timeout_error(transactional_db):
    started = time.monotonic()
    with pytest.raises(StepTimeoutError, match="timeout of 0.2s"):
        durable.run(wf.hanging, run_id="as-h1")
    assert time.monotonic() - started < 5
    assert Step.objects.get(run_id="as-h1").error_type == "durable.errors.StepTimeoutError"


def test_an_async_run_past_its_timeout_ends_cancelled(side_effects):
    handle = durable.start(wf.slow, "as-t1", 50, 0.1, run_id="as-t1", timeout=0.5)
    wait_for(lambda: handle.status() == "CANCELLED", 10, "the timeout")
    assert "timed out" in Run.objects.get(id="as-t1").cancel_reason
    assert steps_recorded("as-t1") < 10


@pytest.mark.slow
@pytest.mark.usefixtures("memory_worker")
def test_a_celery_worker_executes_an_async_workflow():
    assert durable.start(wf.pipeline, "as-cel", run_id="as-cel").result(timeout=30) == [
        "first!", 3, ["a!", "b!", "c!"], "last!",
    ]  # fmt: skip
    assert Run.objects.get(id="as-cel").executor_id.startswith("celery:")


async def start_view(request, run_id: str):
    """An async Django view: start a run and await its result, no thread held meanwhile."""
    handle = await durable.start_async(wf.pipeline, run_id, run_id=run_id)
    return JsonResponse({"result": await handle.result_async(timeout=20)})


urlpatterns = [path("start/<str:run_id>/", start_view)]


@pytest.mark.urls("tests.engine.test_async")
def test_an_async_django_view_starts_a_run_and_awaits_its_result(side_effects):
    response = off_the_test_thread(async_to_sync(AsyncClient().get), "/start/as-v1/")
    assert response.json() == {"result": ["first!", 3, ["a!", "b!", "c!"], "last!"]}
    assert Run.objects.get(id="as-v1").status == RunStatus.SUCCESS


def test_result_async_outside_a_workflow_times_out_and_the_run_goes_on(side_effects):
    handle = durable.start(wf.slow, "as-to", 3, 0.2, run_id="as-to")
    with pytest.raises(durable.errors.ResultTimeoutError):
        off_the_test_thread(async_to_sync(handle.result_async), timeout=0.1)
    assert off_the_test_thread(async_to_sync(handle.result_async), timeout=20) == 3


def test_from_async_code_run_send_and_get_event_are_awaitable(side_effects):
    async def caller() -> list:
        child = await durable.run_async(wf.async_child, "as-aw", run_id="as-aw")
        handle = await durable.start_async(wf.receiver, 5.0, run_id="as-aw-r")
        await durable.send_async("as-aw-r", "hello")
        await durable.start_async(wf.parent, "as-aw-p", run_id="as-aw-p")
        event = await durable.get_event_async("as-aw-p", "child", timeout=20)
        return [child, await handle.result_async(timeout=20), event]

    expected = ["child-ran!", ["hello", None], "child-ran!"]
    assert off_the_test_thread(async_to_sync(caller)) == expected


@pytest.mark.slow
def test_an_async_run_survives_sigkill_mid_gather_and_recorded_steps_run_once(
    side_effects, settings
):
    settings.DURABLE_EXECUTOR = "external"
    steps = 15
    durable.start(wf.async_crash_ledger, "as-k1", steps, 0.05, run_id="as-k1")
    modules = "tests.engine.workflows,tests.engine.async_workflows"
    first = start_worker(DURABLE_MODULES=modules)
    second = None
    try:
        wait_for(lambda: steps_recorded("as-k1") >= 12, 60, "12 checkpoints")
        first.kill()
        first.wait(10)
        assert steps_recorded("as-k1") < 3 * steps, "the worker finished before it was killed"
        second = start_worker(DURABLE_MODULES=modules)
        wait_for(
            lambda: Run.objects.get(id="as-k1").status == RunStatus.SUCCESS, 60, "the recovery"
        )
    finally:
        logs = stop(first) + (stop(second) if second else "")
    run = Run.objects.get(id="as-k1")
    assert (run.output, run.recovery_count) == (steps, 1), logs
    counts = side_effects("as-k1")
    assert all(counts[f"txn-{i}"] == 1 for i in range(steps)), counts
    plain = [counts[f"{side}-{i}"] for i in range(steps) for side in "xy"]
    assert all(n >= 1 for n in plain) and sum(plain) - 2 * steps <= 2, plain  # 2 in flight
    assert run.steps.count() == 3 * steps
