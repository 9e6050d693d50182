"""A message (or a thread executor's token) delivered again to the executor already executing
its run leaves that execution alone, and a run never stays RUNNING with nobody executing it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

import durable
from durable import executors
from durable.executors import _recovery as recovery
from durable.executors._lifeline import Lifeline
from durable.executors.celery import CeleryWorker
from durable.models import Executor, Run
from tests.conftest import record_side_effect
from tests.engine.processes import wait_for
from tests.engine.workflows import note

GATE = threading.Event()


@durable.step()
def gated(run_id: str) -> str:
    record_side_effect(run_id, "gated")
    assert GATE.wait(10)
    return "opened"


@durable.workflow(name="tests.redelivery.gated")
def gated_twice(run_id: str) -> str:
    gated(run_id)
    note(run_id, "after")
    return "done"


class NoBroker:
    def dispatch(self, run_id: str) -> None:
        """Messages are delivered by hand in these tests."""


@pytest.fixture
def worker(side_effects, settings):
    """A Celery worker's durable side, its messages delivered by the test (threads)."""
    settings.DURABLE_EXECUTOR = "external"
    GATE.clear()
    worker = CeleryWorker(dispatcher=NoBroker())
    worker._lifeline.start()  # a worker claims runs only while its lifeline holds its lock
    threads: list[threading.Thread] = []

    def execute(run_id: str) -> None:
        try:
            worker.execute(run_id)
        finally:
            connection.close()

    def deliver(run_id: str) -> None:
        thread = threading.Thread(target=execute, args=(run_id,), daemon=True)
        thread.start()
        threads.append(thread)

    worker.deliver = deliver
    yield worker
    GATE.set()
    for thread in threads:
        thread.join(10)
    worker._lifeline.stop()


def _judged_dead_while_alive(executor, run_id: str) -> None:
    """The executor's lifeline connection drops and stays down past the verdict's silence
    (its lease lapsed too): its run is recovered although it lives; then its lifeline is
    back, as after a long network hiccup."""
    executor._lifeline.stop()
    long_ago = timezone.now() - timedelta(seconds=60)
    Executor.objects.filter(id=executor.executor_id).update(last_seen_at=long_ago)
    Run.objects.filter(id=run_id).update(lease_expires_at=long_ago)
    assert recovery.sweep() == ([run_id], [])
    executor._lifeline = Lifeline(executor.executor_id, 0.5).start()


def test_a_redelivered_message_leaves_the_running_execution_alone(worker, side_effects):
    durable.start(gated_twice, "redeliver-1", run_id="redeliver-1")
    worker.deliver("redeliver-1")
    wait_for(lambda: side_effects("redeliver-1"), 10, "the gated step to start")
    assert worker.execute("redeliver-1") is False  # the duplicate finds the run RUNNING
    GATE.set()
    wait_for(lambda: Run.objects.get(id="redeliver-1").status == "SUCCESS", 10, "the run")
    assert side_effects("redeliver-1") == {"gated": 1, "after": 1}


def test_a_run_claimed_again_by_its_own_worker_is_never_left_running_without_an_executor(
    worker, side_effects
):
    durable.start(gated_twice, "redeliver-2", run_id="redeliver-2")
    worker.deliver("redeliver-2")
    wait_for(lambda: side_effects("redeliver-2"), 10, "the gated step to start")
    # the worker loses its lifeline long enough to be judged dead: the run is recovered...
    _judged_dead_while_alive(worker, "redeliver-2")
    worker._heartbeat()  # ...the worker hears its lease is gone and tells the run to stop
    assert worker.execute("redeliver-2") is True  # ...and its message comes back here
    GATE.set()
    wait_for(lambda: Run.objects.get(id="redeliver-2").status == "SUCCESS", 10, "the run to end")
    assert side_effects("redeliver-2") == {"gated": 1, "after": 1}


def test_a_thread_executor_never_executes_one_run_on_two_threads(side_effects, settings):
    GATE.clear()
    executor = executors.start_thread_executor(threads=2)
    durable.start(gated_twice, "redeliver-3", run_id="redeliver-3")
    wait_for(lambda: side_effects("redeliver-3"), 10, "the gated step to start")
    _judged_dead_while_alive(executor, "redeliver-3")
    executor._heartbeat(starting=False)

    def second_token() -> None:  # as when a head claim's token names a run already in flight
        try:
            executor._execute("redeliver-3")
        finally:
            connection.close()

    second = threading.Thread(target=second_token)
    second.start()
    second.join(5)
    GATE.set()
    wait_for(lambda: Run.objects.get(id="redeliver-3").status == "SUCCESS", 10, "the run to end")
    assert side_effects("redeliver-3") == {"gated": 1, "after": 1}
