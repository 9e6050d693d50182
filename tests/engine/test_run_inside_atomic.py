"""durable.run() where the new run cannot start before the caller's transaction commits."""

from __future__ import annotations

import threading

from django.db import connection, transaction

import durable
from durable.errors import DurableError


@durable.workflow(name="tests.run_inside_atomic.kid")
def kid(n: int) -> int:
    return n * 2


def _finishes_within(seconds: float, call) -> dict:
    """Run `call` on a thread; what it returned or raised, or {} if it still waits."""
    outcome: dict = {}

    def go():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome


def test_durable_run_inside_atomic_returns_or_says_why_it_cannot(transactional_db):
    def call():
        with transaction.atomic():
            return durable.run(kid, 4, run_id="inside-atomic-1")

    outcome = _finishes_within(10, call)
    assert outcome, "durable.run() inside transaction.atomic() waits forever"
    assert outcome.get("value") == 8 or isinstance(outcome.get("error"), DurableError)


@durable.transaction()
def starts_a_run(n: int) -> int:
    return durable.run(kid, n)


@durable.workflow(name="tests.run_inside_atomic.parent")
def parent(n: int) -> int:
    return starts_a_run(n)


def test_durable_run_inside_a_transaction_step_returns_or_says_why_it_cannot(transactional_db):
    outcome = _finishes_within(10, lambda: durable.run(parent, 5, run_id="inside-atomic-2"))
    assert outcome, "durable.run() inside a @durable.transaction step waits forever"
