"""The documented rule for CPU-bound steps: a C call that holds the GIL starves lease
renewal, so keep it under two thirds of DURABLE_LEASE_SECONDS (docs/reliability.md)."""

from __future__ import annotations

import time

import pytest

import durable
from durable.models import Run
from tests.engine.processes import start_worker, stop, wait_for
from tests.faults.workflows import gil_bound

pytestmark = pytest.mark.slow


def _seconds_per_million() -> float:
    began = time.perf_counter()
    sum(range(1_000_000))
    return time.perf_counter() - began


def test_a_step_holding_the_gil_under_two_thirds_of_the_lease_keeps_it(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    lease = {"DURABLE_MODULES": "tests.faults.workflows", "DURABLE_LEASE_SECONDS": "3"}
    durable.start(gil_bound, 0.8, _seconds_per_million(), 3, run_id="gil-1")
    workers = [start_worker(**lease), start_worker(**lease)]  # the other one sweeps
    try:
        wait_for(lambda: Run.objects.get(id="gil-1").status == "SUCCESS", 90, "the run")
    finally:
        logs = "".join(stop(worker) for worker in workers)
    run = Run.objects.get(id="gil-1")
    assert (run.output, run.recovery_count) == (3, 0), logs[-3000:]
