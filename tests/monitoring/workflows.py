"""Workflows the monitoring tests run: a step that logs through a user logger."""

from __future__ import annotations

import logging
import time

import durable

user_logger = logging.getLogger("tests.monitoring.user")
FAILURES: dict[str, int] = {}


@durable.step(retries=1, retry_delay=0.01)
def charge(run_id: str, amount: int) -> int:
    user_logger.info("charging %s", amount)
    if FAILURES.get(run_id, 0) > 0:
        FAILURES[run_id] -= 1
        raise ConnectionError("card network timeout")
    return amount


@durable.workflow(name="tests.monitoring.checkout")
def checkout(run_id: str, amount: int) -> int:
    return charge(run_id, amount)


@durable.step()
def refuse(reason: str) -> None:
    raise ValueError(reason)


@durable.workflow(name="tests.monitoring.refused")
def refused(reason: str) -> None:
    refuse(reason)


@durable.step(max_output_bytes=1000)
def export_rows(count: int) -> list[str]:
    return ["row"] * count


@durable.workflow(name="tests.monitoring.export")
def export(count: int) -> int:
    return len(export_rows(count))


@durable.step()
def unbounded(count: int) -> str:
    return "x" * count


@durable.workflow(name="tests.monitoring.unbounded")
def unbounded_flow(count: int) -> int:
    return len(unbounded(count))


@durable.step()
def burn(seconds: float) -> int:
    """Works: spins until this thread has used `seconds` of CPU."""
    end, spins = time.thread_time() + seconds, 0
    while time.thread_time() < end:
        spins += 1
    return spins


@durable.step()
def wait(seconds: float) -> None:
    """Waits: sleeps `seconds` (I/O, locks), using almost no CPU."""
    time.sleep(seconds)


@durable.workflow(name="tests.monitoring.work_and_wait")
def work_and_wait(seconds: float) -> None:
    burn(seconds)
    wait(seconds)
