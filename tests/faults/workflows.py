"""Workflows the fault tests run, in this process or in worker subprocesses (DURABLE_MODULES)."""

from __future__ import annotations

import time

from django.db import connection, transaction

import durable
from tests.conftest import record_side_effect

HANG = 3600.0
HANG_UNTIL = {"released": False}  # a test sets it to let hung steps return


@durable.step()
def pause(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@durable.transaction()
def book(run_id: str, label: str) -> str:
    """An exactly-once effect: its row commits with the step's checkpoint."""
    record_side_effect(run_id, label)
    return label


@durable.step()
def touch(run_id: str, label: str) -> str:
    """An at-least-once effect (a plain step)."""
    record_side_effect(run_id, label)
    return label


@durable.workflow(name="faults.ledger")
def ledger(run_id: str, steps: int, pause_seconds: float) -> int:
    """Alternate paced plain steps and transactional bookings; returns the steps done."""
    for index in range(steps):
        pause(pause_seconds)
        book(run_id, f"txn-{index}")
    return steps


@durable.step()
def hang(seconds: float = HANG) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not HANG_UNTIL["released"]:
        time.sleep(0.05)
    return "woke"


@durable.workflow(name="faults.hung", timeout=1.5)
def hung_with_deadline() -> str:
    return hang()


@durable.workflow(name="faults.hung_no_deadline")
def hung_forever() -> str:
    return hang()


ATTEMPTS: dict[str, int] = {}


@durable.step(timeout=0.5, retries=1, retry_delay=0.01)
def slow_then_fast(key: str) -> str:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] == 1:
        time.sleep(3)
    return f"attempt {ATTEMPTS[key]}"


@durable.workflow(name="faults.step_timeout")
def step_timeout(key: str) -> str:
    return slow_then_fast(key)


@durable.step(retries=3, retry_delay=30)
def always_fails() -> None:
    raise RuntimeError("down")


@durable.workflow(name="faults.backoff", timeout=1.5)
def long_backoff() -> None:
    always_fails()


class Interrupt(BaseException):
    """Stands for a test framework's failure (pytest's `Failed` is a BaseException)."""


@durable.step()
def raise_base(kind: str) -> None:
    raise {"keyboard": KeyboardInterrupt, "exit": SystemExit, "failed": Interrupt}[kind]("boom")


@durable.workflow(name="faults.base_exception")
def base_exception(kind: str) -> None:
    raise_base(kind)


FLAKY: dict[str, int] = {}


@durable.step(retries=2, retry_delay=0.01)
def flaky(key: str) -> str:
    FLAKY[key] = FLAKY.get(key, 0) + 1
    if FLAKY[key] == 1:
        raise RuntimeError("first attempt fails")
    return "ok"


@durable.workflow(name="faults.flaky")
def flaky_workflow(key: str) -> str:
    return flaky(key)


LOSE_REPLY: set[str] = set()


def _lose_this_connection() -> None:
    """Kill our own backend after the commit: the caller sees a dropped connection although
    the transaction committed (a commit whose reply was lost)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")


@durable.transaction()
def book_and_lose_reply(run_id: str) -> str:
    record_side_effect(run_id, "booked")
    if run_id not in LOSE_REPLY:
        LOSE_REPLY.add(run_id)
        transaction.on_commit(_lose_this_connection)
    return "booked"


@durable.workflow(name="faults.lost_commit_reply")
def lost_commit_reply(run_id: str) -> str:
    return book_and_lose_reply(run_id)


@durable.step()
def hold_the_gil(seconds: float, per_million: float) -> int:
    """One C call (sum over a range) that keeps the GIL for about `seconds`."""
    return sum(range(int(seconds / per_million * 1_000_000)))


@durable.workflow(name="faults.gil")
def gil_bound(seconds: float, per_million: float, steps: int) -> int:
    return sum(hold_the_gil(seconds, per_million) > 0 for _ in range(steps))


@durable.step()
def count_and_hold_the_gil(run_id: str, label: str, seconds: float, per_million: float) -> bool:
    """Counted in the side-effect ledger each time its body runs, then one long C call."""
    record_side_effect(run_id, label)
    return sum(range(int(seconds / per_million * 1_000_000))) > 0


@durable.workflow(name="faults.gil_ledger")
def gil_ledger(run_id: str, seconds: float, per_million: float, steps: int) -> int:
    return sum(
        count_and_hold_the_gil(run_id, f"gil-{i}", seconds, per_million) for i in range(steps)
    )
