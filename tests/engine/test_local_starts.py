"""A run started in a process whose thread executor serves it starts there at once: its row
is inserted already claimed by that executor (no separate claim, no wait for a thread to
pick it up), and result() is woken by the finish itself. Queues with limits, delayed
starts, drains, busy threads and the caller's transaction keep the ordinary path."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

import durable
from durable import executors, operations
from durable.errors import RunCancelledError
from durable.models import Executor, Run
from tests.engine import async_workflows
from tests.engine.processes import wait_for
from tests.engine.workflows import FLAKY_FAILURES, Boom, fails_at_third_step, slow_ledger, sum_three

ONE_AT_A_TIME = durable.Queue("tests.local-one-at-a-time", concurrency=1)


@durable.workflow(name="tests.local_limited", queue=ONE_AT_A_TIME)
def limited_slow(run_id: str, seconds: float) -> str:
    return slow_ledger_step(run_id, seconds)


@durable.step(name="tests.local_limited_step")
def slow_ledger_step(run_id: str, seconds: float) -> str:
    time.sleep(seconds)
    return run_id


@pytest.fixture
def serving(side_effects, settings):
    """This process's thread executor, started, its lifeline held and its row written."""

    def start(threads: int = 4):
        settings.DURABLE_THREADS = threads
        executor = executors.get_executor()
        wait_for(lambda: Executor.objects.filter(id=executor.executor_id).exists(), 10, "row")
        wait_for(executor._lifeline.holds, 10, "the lifeline")
        return executor

    return start


def _row(run_id: str) -> Run:
    return Run.objects.get(id=run_id)


def test_a_run_started_beside_its_serving_executor_is_claimed_in_its_insert(serving):
    executor = serving()
    handle = durable.start(sum_three, 1, 2, 3)
    assert handle.result(timeout=10) == 6
    run = _row(handle.run_id)
    assert run.executor_id == executor.executor_id
    assert run.claimed_at == run.created_at  # one statement: inserted already claimed
    assert run.recovery_count == 0


def test_result_of_a_run_executing_here_is_woken_by_its_finish_without_reading_the_row(
    serving,
):
    serving()
    handle = durable.start(slow_ledger, "local-wake", 1, 0.3, run_id="local-wake")
    with CaptureQueriesContext(connection) as queries:
        assert handle.result(timeout=10) == 1
        returned = time.time()
    assert not [query for query in queries if "durable_run" in query["sql"]]
    finished = _row("local-wake").finished_at.timestamp()
    assert returned - finished < 0.1


class _SlowFailureLog(logging.Handler):
    """Takes its time over the engine's "run … failed" line, as a slow log shipper would."""

    def __init__(self) -> None:
        super().__init__()
        self.handled: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "failed" in record.getMessage():
            time.sleep(0.3)
            self.handled.append(record.getMessage())


def _failure_line_when_result_returns(run_id: str, start) -> list[str]:
    """The engine's "run … failed" lines handled by the time result() raises, with a log
    handler that takes its time over them; `start()` starts the failing run."""
    handler = _SlowFailureLog()
    logging.getLogger("durable").addHandler(handler)
    try:
        FLAKY_FAILURES[run_id] = 1
        handle = start()
        with pytest.raises(Boom):
            handle.result(timeout=10)
        return handler.handled
    finally:
        logging.getLogger("durable").removeHandler(handler)


def test_result_returns_after_the_run_has_done_with_its_ending_here(serving):
    """What the run does after writing its end (its log line, its trace span, the failure
    signal) is done when result() returns: a waiter woken at the write would race them."""
    serving()
    handled = _failure_line_when_result_returns(
        "local-ending",
        lambda: durable.start(fails_at_third_step, "local-ending", run_id="local-ending"),
    )
    assert handled == ["run local-ending failed: third step broke"]


def test_a_finish_notice_does_not_wake_the_waiter_of_a_run_still_ending_here(serving):
    """A run claimed the ordinary way (started inside a transaction) sends a finish NOTIFY,
    heard here too: its waiter still waits until the execution here is over."""
    serving()

    def start_in_a_transaction():
        with transaction.atomic():
            return durable.start(fails_at_third_step, "notice-ending", run_id="notice-ending")

    handled = _failure_line_when_result_returns("notice-ending", start_in_a_transaction)
    assert handled == ["run notice-ending failed: third step broke"]


def test_a_local_start_leaves_a_run_of_a_full_limited_queue_waiting(serving):
    serving()
    first = durable.start(limited_slow, "local-first", 0.5, run_id="local-first")
    wait_for(lambda: _row("local-first").status == "RUNNING", 10, "the first run to start")
    second = durable.start(limited_slow, "local-second", 0.0, run_id="local-second")
    assert _row("local-second").status == "ENQUEUED"  # the one slot is taken
    assert first.result(timeout=10) == "local-first"
    assert second.result(timeout=10) == "local-second"
    assert _row("local-second").claimed_at >= _row("local-first").finished_at


def test_a_delayed_local_start_stays_enqueued_until_due(serving):
    serving()
    handle = durable.start(sum_three, 1, 2, 3, delay=60)
    run = _row(handle.run_id)
    assert (run.status, run.executor_id, run.claimed_at) == ("ENQUEUED", None, None)


def test_a_drained_executor_claims_no_local_start(serving):
    executor = serving()
    operations.drain_executor(executor.executor_id, actor="ops", reason="deploy")
    wait_for(executor._operator_drain.is_set, 5, "the drain notice")
    handle = durable.start(sum_three, 1, 2, 3)
    time.sleep(0.2)
    run = _row(handle.run_id)
    assert (run.status, run.executor_id) == ("ENQUEUED", None)
    operations.undrain_executor(executor.executor_id, actor="ops")
    assert handle.result(timeout=10) == 6


def test_a_start_with_every_thread_busy_waits_for_a_thread(serving):
    serving(threads=1)
    busy = durable.start(slow_ledger, "local-busy", 1, 0.5, run_id="local-busy")
    wait_for(lambda: _row("local-busy").status == "RUNNING", 10, "the busy run")
    waiting = durable.start(sum_three, 1, 2, 3)
    assert _row(waiting.run_id).status == "ENQUEUED"
    assert waiting.result(timeout=10) == 6
    assert busy.result(timeout=10) == 1
    assert _row(waiting.run_id).claimed_at > _row(waiting.run_id).created_at


def test_a_start_inside_a_transaction_is_claimed_only_after_its_commit(serving):
    serving()
    with transaction.atomic():
        handle = durable.start(sum_three, 1, 2, 3)
        time.sleep(0.1)
    assert handle.result(timeout=10) == 6
    assert _row(handle.run_id).claimed_at > _row(handle.run_id).created_at


def test_a_cancel_right_after_a_local_start_ends_the_run_cancelled(serving, side_effects):
    serving()
    handle = durable.start(slow_ledger, "local-cancel", 3, 0.2, run_id="local-cancel")
    operations.cancel("local-cancel")
    with pytest.raises(RunCancelledError):
        handle.result(timeout=10)
    time.sleep(0.5)
    assert side_effects("local-cancel").get("step-2", 0) == 0  # no step after the cancel


def test_a_second_start_with_the_same_id_is_the_first_run(serving):
    serving()
    first = durable.start(slow_ledger, "local-same", 1, 0.1, run_id="local-same")
    again = durable.start(slow_ledger, "local-same", 1, 0.1, run_id="local-same")
    assert again == first
    assert first.result(timeout=10) == 1
    assert Run.objects.filter(id="local-same").count() == 1


THREAD_OF_STEP: dict[str, str] = {}
CALLER_TAG: contextvars.ContextVar[str] = contextvars.ContextVar("caller_tag", default="unset")


@durable.step(name="tests.local_thread_step")
def thread_step(token: str) -> str:
    THREAD_OF_STEP[token] = threading.current_thread().name
    seen = CALLER_TAG.get()
    CALLER_TAG.set("set by the step")
    return seen


@durable.workflow(name="tests.local_thread")
def thread_workflow(token: str) -> str:
    return thread_step(token)


def test_run_executes_a_run_claimed_in_its_insert_on_the_calling_thread(serving):
    """`durable.run()` waits for the run anyway: it executes it itself instead of handing
    it to a pool thread and sleeping until that thread wakes it."""
    executor = serving()
    assert durable.run(thread_workflow, "run-here", run_id="run-here") == "unset"
    assert THREAD_OF_STEP["run-here"] == threading.current_thread().name
    run = _row("run-here")
    assert (run.status, run.executor_id) == ("SUCCESS", executor.executor_id)
    assert run.claimed_at == run.created_at
    assert executor.free_threads() == executor.threads  # its reserved slot is given back


def test_a_run_executed_on_the_calling_thread_sees_none_of_its_context(serving):
    """Executed here, a run starts from an empty context as on a pool thread: the caller's
    context variables are not the run's, and the run's do not leak back to the caller."""
    serving()
    token = CALLER_TAG.set("set by the caller")
    try:
        assert durable.run(thread_workflow, "run-context") == "unset"
        assert CALLER_TAG.get() == "set by the caller"
    finally:
        CALLER_TAG.reset(token)


def test_start_still_hands_its_run_to_a_pool_thread(serving):
    serving()
    assert durable.start(thread_workflow, "start-pool").result(timeout=10) == "unset"
    assert THREAD_OF_STEP["start-pool"].startswith("durable-worker")


def test_a_run_executed_on_the_calling_thread_is_cancelled_like_any_other(serving):
    serving()
    cancel = threading.Timer(0.3, lambda: operations.cancel("run-here-cancel"))
    cancel.start()
    try:
        with pytest.raises(RunCancelledError):
            durable.run(slow_ledger, "run-here-cancel", 5, 0.2, run_id="run-here-cancel")
    finally:
        cancel.join()
    assert _row("run-here-cancel").status == "CANCELLED"


def test_run_with_every_thread_busy_waits_for_a_thread_as_before(serving):
    serving(threads=1)
    busy = durable.start(slow_ledger, "run-busy", 1, 0.5, run_id="run-busy")
    wait_for(lambda: _row("run-busy").status == "RUNNING", 10, "the busy run")
    assert durable.run(thread_workflow, "run-waits") == "unset"
    assert THREAD_OF_STEP["run-waits"].startswith("durable-worker")
    assert busy.result(timeout=10) == 1


@durable.step(name="tests.local_stuck_step")
def stuck_step(seconds: float) -> float:
    time.sleep(seconds)  # deaf to cancels, as a hung call is
    return seconds


@durable.workflow(name="tests.local_stuck")
def stuck_workflow(seconds: float) -> float:
    stuck_step(seconds)
    return stuck_step(seconds)


def test_a_calling_thread_hung_in_a_cancelled_step_is_not_abandoned_for_the_pool(serving, settings):
    """A pool thread hung in a cancelled run's step is abandoned and replaced; the thread
    that called `durable.run()` is the caller's, not the pool's: it is neither counted among
    the abandoned threads (it lives on after the step) nor replaced, and its run's slot and
    lease are kept until its step returns."""
    from durable.core import _hung as hung

    settings.DURABLE_POLL_SECONDS = 0.1
    executor = serving()
    workers = len(executor._workers)
    cancel = threading.Timer(0.3, lambda: operations.cancel("run-here-stuck"))
    cancel.start()
    try:
        with pytest.raises(RunCancelledError):
            durable.run(stuck_workflow, 1.5, run_id="run-here-stuck")
    finally:
        cancel.join()
    assert len(executor._workers) == workers
    assert hung.abandoned_alive() == 0
    assert executor.free_threads() == executor.threads


def test_run_from_a_thread_whose_event_loop_runs_executes_an_async_workflow(serving, monkeypatch):
    """A notebook cell (or sync Playwright) calls durable.run() on a thread that has a running
    event loop: an async workflow cannot be run there, so the run goes to a pool thread."""
    serving()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # as notebooks run Django

    async def cell() -> list[int]:
        return durable.run(async_workflows.roundtrip, [1, 2])  # blocks the loop, as cells do

    assert asyncio.run(cell()) == [1, 2]
