"""Workflows the engine tests run; importable by worker subprocesses (DURABLE_MODULES)."""

from __future__ import annotations

import time

import durable
from tests.conftest import record_side_effect

FLAKY_FAILURES: dict[str, int] = {}


@durable.step()
def add(a: int, b: int) -> int:
    return a + b


@durable.step()
def note(run_id: str, label: str) -> str:
    record_side_effect(run_id, label)
    return label


@durable.workflow(name="tests.sum_three")
def sum_three(a: int, b: int, c: int) -> int:
    return add(add(a, b), c)


@durable.workflow(name="tests.ledger")
def ledger(run_id: str, labels: list[str]) -> list[str]:
    return [note(run_id, label) for label in labels]


class Boom(Exception):
    pass


@durable.step()
def explode(message: str) -> None:
    raise Boom(message)


@durable.workflow(name="tests.fails_at_third_step")
def fails_at_third_step(run_id: str) -> str:
    note(run_id, "first")
    note(run_id, "second")
    if FLAKY_FAILURES.get(run_id, 0) > 0:
        FLAKY_FAILURES[run_id] -= 1
        explode("third step broke")
    note(run_id, "third")
    return "done"


@durable.step(retries=2, retry_delay=0.01)
def flaky(run_id: str) -> str:
    record_side_effect(run_id, "flaky-attempt")
    if FLAKY_FAILURES.get(run_id, 0) > 0:
        FLAKY_FAILURES[run_id] -= 1
        raise ConnectionError("transient failure")
    return "ok"


@durable.workflow(name="tests.retrying")
def retrying(run_id: str) -> str:
    return flaky(run_id)


@durable.step()
def slow_note(run_id: str, label: str, seconds: float) -> str:
    time.sleep(seconds)
    record_side_effect(run_id, label)
    return label


@durable.workflow(name="tests.slow_ledger")
def slow_ledger(run_id: str, count: int, seconds: float) -> int:
    for index in range(count):
        slow_note(run_id, f"step-{index}", seconds)
    return count


@durable.transaction()
def txn_note(run_id: str, label: str) -> str:
    record_side_effect(run_id, label)
    return label


@durable.workflow(name="tests.crash_ledger")
def crash_ledger(run_id: str, count: int, seconds: float) -> int:
    """Per iteration: a plain step (at-least-once) and a transaction step (exactly-once)."""
    for index in range(count):
        slow_note(run_id, f"plain-{index}", seconds)
        txn_note(run_id, f"txn-{index}")
    return count


@durable.workflow(name="tests.child")
def child(run_id: str) -> str:
    note(run_id, "child-ran")
    return "child-done"


@durable.workflow(name="tests.tour")
def tour(run_id: str) -> list:
    """A step, a durable sleep, a child workflow and a message: every primitive in one run."""
    note(run_id, "before-sleep")
    durable.sleep(1.0)
    note(run_id, "after-sleep")
    handle = durable.start(child, run_id)
    message = durable.recv("go", timeout=60)
    note(run_id, f"got-{message}")
    return [message, handle.result(timeout=30)]


@durable.workflow(name="tests.stream_ledger")
def stream_ledger(run_id: str, count: int, seconds: float) -> int:
    """Streams `count` values from its body, a slow step after each, then closes it."""
    for index in range(count):
        durable.write_stream("progress", index)
        slow_note(run_id, f"chunk-{index}", seconds)
    durable.close_stream("progress")
    return count


@durable.step(name="tests.attempt_noted", retries=1, retry_delay=0.01)
def attempt_noted(run_id: str, plan: list[str]) -> int:
    """Notes its attempt number; its n-th execution does plan[n-1] ("hang": long enough
    to be killed, "fail"), or returns the number once the plan is done."""
    attempt = durable.current().attempt
    record_side_effect(run_id, f"attempt-{attempt}")
    executions = _executions(run_id)
    todo = plan[executions - 1] if executions <= len(plan) else "return"
    if todo == "fail":
        raise Boom(f"execution {executions} fails")
    if todo == "hang":
        time.sleep(120)
    return attempt


@durable.workflow(name="tests.attempts_counted")
def attempts_counted(run_id: str, plan: list[str]) -> int:
    return attempt_noted(run_id, plan)


def _executions(run_id: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM test_side_effect WHERE run_id = %s", [run_id])
        return cursor.fetchone()[0]


@durable.workflow(name="tests.caught_type")
def caught_type(message: str) -> str:
    """The class a step's error arrives as: what a replay of the recorded error raises."""
    caught = "no error"
    try:
        explode(message)
    except Exception as error:
        caught = f"{type(error).__module__}.{type(error).__qualname__}"
    add(1, 1)  # a checkpoint after the caught one: a resume keeps the error and replays it
    return caught
