"""Workflows and queues the Celery and queue tests run (DURABLE_MODULES of the workers)."""

from __future__ import annotations

import contextlib
import threading
import time

from django.db import connection

import durable
from tests.conftest import record_side_effect

LIMITED = durable.Queue("durable-test-limited", concurrency=3)
PER_WORKER = durable.Queue("durable-test-per-worker", worker_concurrency=1)
RATED = durable.Queue("durable-test-rated", rate_limit=(4, 1.0))
RANKED = durable.Queue("durable-test-ranked", concurrency=1, priority=True)


def record_span(run_id: str, event: str) -> None:
    """A row per start and end of a step body, with the database clock (test_span)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO test_span (run_id, event, at) VALUES (%s, %s, clock_timestamp())",
            [run_id, event],
        )


@durable.step()
def tick(run_id: str, label: str, seconds: float) -> str:
    if seconds:
        time.sleep(seconds)
    record_side_effect(run_id, label)
    return label


@durable.transaction()
def tick_in_transaction(run_id: str, label: str) -> str:
    record_side_effect(run_id, label)
    return label


@durable.step()
def busy(run_id: str, seconds: float) -> None:
    record_span(run_id, "start")
    time.sleep(seconds)
    record_span(run_id, "end")


@durable.workflow(name="tests.celery.ticks")
def ticks(run_id: str, count: int, seconds: float) -> int:
    for index in range(count):
        tick(run_id, f"plain-{index}", seconds)
        tick_in_transaction(run_id, f"txn-{index}")
    return count


@durable.workflow(name="tests.celery.limited", queue=LIMITED.name)
def limited(run_id: str, seconds: float) -> str:
    busy(run_id, seconds)
    return run_id


@durable.workflow(name="tests.celery.per_worker", queue=PER_WORKER.name)
def per_worker(run_id: str, seconds: float) -> str:
    busy(run_id, seconds)
    return run_id


@durable.workflow(name="tests.celery.rated", queue=RATED.name)
def rated(run_id: str) -> str:
    busy(run_id, 0)
    return run_id


@durable.workflow(name="tests.celery.ranked", queue=RANKED.name)
def ranked(run_id: str, seconds: float) -> str:
    busy(run_id, seconds)
    return run_id


@durable.workflow(name="tests.celery.napper")
def napper(run_id: str, seconds: float) -> str:
    tick(run_id, "before", 0)
    durable.sleep(seconds)
    tick(run_id, "after", 0)
    return run_id


_bank_lines: dict[str, threading.Lock] = {}  # per run: released when the bank answers
_bank_lines_guard = threading.Lock()


def _bank_line(run_id: str) -> threading.Lock:
    with _bank_lines_guard:
        if run_id not in _bank_lines:
            _bank_lines[run_id] = threading.Lock()
            _bank_lines[run_id].acquire()
        return _bank_lines[run_id]


def answer_at_once(run_id: str) -> None:
    """End the run's wait for the bank now (in this process): a test that has seen what it
    wanted does not leave the step running for the executor's shutdown to wait on."""
    line = _bank_line(run_id)
    with contextlib.suppress(RuntimeError):  # answered already
        line.release()


@durable.step()
def waiting_for_the_bank(run_id: str, seconds: float) -> str:
    api_token = f"secret-of-{run_id}"  # never shown in a live stack (DURABLE_STACK_REDACT)
    reference = f"payment-{run_id}"
    line = _bank_line(run_id)  # a C call waits below: the step's line is the innermost frame
    line.acquire(timeout=seconds)  # the bank is slow
    return reference if api_token else ""


@durable.workflow(name="tests.celery.paying")
def paying(run_id: str, seconds: float) -> str:
    return waiting_for_the_bank(run_id, seconds)
