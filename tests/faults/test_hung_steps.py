"""Deadlines and step timeouts hold while a step hangs; a hung step never keeps its slot."""

from __future__ import annotations

import threading
import time

import pytest

import durable
from durable import executors
from durable.core import _hung as hung
from durable.errors import RunCancelledError, StepTimeoutError
from durable.models import Attempt, Run
from tests.engine.processes import wait_for
from tests.faults import workflows
from tests.faults.workflows import hung_forever, hung_with_deadline, long_backoff, step_timeout


@pytest.fixture(autouse=True)
def _release_hung_steps():
    workflows.HANG_UNTIL["released"] = False
    yield
    workflows.HANG_UNTIL["released"] = True  # abandoned threads end with the test


def test_a_hung_step_ends_at_the_workflow_deadline_not_when_it_returns(transactional_db, settings):
    settings.DURABLE_POLL_SECONDS = 0.2
    began = time.monotonic()
    handle = durable.start(hung_with_deadline, run_id="hang-1")  # timeout=1.5
    with pytest.raises(RunCancelledError, match="timed out"):
        handle.result(timeout=10)
    assert time.monotonic() - began < 4
    assert Run.objects.get(id="hang-1").status == "CANCELLED"


def test_the_deadline_holds_during_retry_backoff(transactional_db, settings):
    began = time.monotonic()
    handle = durable.start(long_backoff, run_id="hang-2")  # timeout=1.5, retry_delay=30
    with pytest.raises(RunCancelledError, match="timed out"):
        handle.result(timeout=10)
    assert time.monotonic() - began < 4


def test_a_step_over_its_timeout_fails_the_attempt_and_the_retry_policy_decides(
    transactional_db,
):
    handle = durable.start(step_timeout, "t-3", run_id="hang-3")  # timeout=0.5, 1 retry
    assert handle.result(timeout=10) == "attempt 2"
    attempt = Attempt.objects.get(run_id="hang-3")
    assert attempt.error_type == f"{StepTimeoutError.__module__}.StepTimeoutError"
    assert hung.abandoned_alive() >= 1


def test_cancelling_a_run_stuck_in_a_hung_step_frees_its_slot(transactional_db, settings):
    settings.DURABLE_THREADS = 1
    settings.DURABLE_POLL_SECONDS = 0.1
    settings.DURABLE_LEASE_SECONDS = 0.6  # the cancel is heard at the next renewal
    executors.get_executor()
    stuck = durable.start(hung_forever, run_id="hang-4")
    deadline = time.monotonic() + 5
    while Run.objects.get(id="hang-4").status != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    durable.operations.cancel("hang-4", actor="oncall")
    other = durable.start(workflows.ledger, "hang-5", 1, 0, run_id="hang-5")
    assert other.result(timeout=10) == 1, "the only thread stayed stuck in the cancelled run"
    assert stuck.status() == "CANCELLED"


HUNG_LIMITED = durable.Queue("tests-hung-limited", concurrency=10)
EXECUTED_ON: dict[str, str] = {}  # key -> the name of the thread that executed the run


@durable.workflow(name="tests.hung.limited", queue=HUNG_LIMITED.name)
def limited_run(key: str, hangs: bool) -> str:
    EXECUTED_ON[key] = threading.current_thread().name
    return workflows.hang() if hangs else str(workflows.pause(0.3))


def test_a_thread_abandoned_in_a_hung_step_takes_no_more_runs_when_the_step_returns(
    transactional_db, settings
):
    """A run of a limited queue lets its thread take the queue's next run when it ends. A
    thread abandoned in a hung step has given its slot to a replacement: when the step
    finally returns, it ends there, or the executor runs more runs than it has threads."""
    settings.DURABLE_THREADS = 1
    settings.DURABLE_POLL_SECONDS = 0.1
    settings.DURABLE_LEASE_SECONDS = 0.6  # the cancel is heard at the next renewal
    EXECUTED_ON.clear()
    executors.get_executor()
    durable.start(limited_run, "hung", True, run_id="abandon-hung")
    wait_for(lambda: "hung" in EXECUTED_ON, 5, "the hung run to start")
    keys = [f"next-{index}" for index in range(5)]
    for key in keys:
        durable.start(limited_run, key, False, run_id=f"abandon-{key}")
    durable.operations.cancel("abandon-hung", actor="oncall")
    wait_for(lambda: len(EXECUTED_ON) > 1, 5, "a replacement thread to take the queue's runs")
    workflows.HANG_UNTIL["released"] = True  # the abandoned thread's step returns now
    wait_for(
        lambda: Run.objects.filter(id__startswith="abandon-next-", status="SUCCESS").count() == 5,
        10,
        "the queue's runs to finish",
    )
    assert EXECUTED_ON["hung"] == "durable-worker-0"
    assert {EXECUTED_ON[key] for key in keys} == {"durable-worker-replacement"}
