"""Workflows the bulk job tests act on: one that succeeds, one whose dependency still fails,
and a slow one to hold and cancel mid-way."""

from __future__ import annotations

import time

import durable
from tests.conftest import record_side_effect


@durable.step()
def call_provider(run_id: str, works: bool) -> str:
    record_side_effect(run_id, "provider")
    if not works:
        raise RuntimeError("payment provider still down")
    return "paid"


@durable.workflow(name="tests.jobs.pay")
def pay(run_id: str, works: bool) -> str:
    return call_provider(run_id, works)


@durable.step()
def slow_call(run_id: str, seconds: float) -> str:
    time.sleep(seconds)
    return "done"


@durable.workflow(name="tests.jobs.slow")
def slow(run_id: str, seconds: float) -> str:
    return slow_call(run_id, seconds)
