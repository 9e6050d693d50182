"""CPU-bound steps and the GIL: a C call that holds the GIL starves every Python thread of
its process, heartbeats included, but not the lifeline's lock, which lives in the server.
A live owner keeps its run however long the call (docs/reliability.md)."""

from __future__ import annotations

import time

import pytest

import durable
from durable.models import Recovery, Run
from tests.engine.processes import start_worker, stop, wait_for
from tests.faults.workflows import gil_bound, gil_ledger

pytestmark = pytest.mark.slow

HEARTBEAT = 0.5  # DURABLE_HEARTBEAT_SECONDS, the default
GIL_HOLD = 4.0  # > 2 x HEARTBEAT and > the lease of 3 s below


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


def test_a_live_owner_holding_the_gil_past_two_heartbeats_and_its_lease_keeps_its_run(
    side_effects, settings
):
    """Each step holds the GIL 4 s: eight heartbeats missed (far more than 2x the interval),
    and longer than the 3 s lease (renewed every second, starved too). Another worker sweeps
    all along; the run is never recovered and each step body runs once."""
    settings.DURABLE_EXECUTOR = "external"
    env = {
        "DURABLE_MODULES": "tests.faults.workflows",
        "DURABLE_LEASE_SECONDS": "3",
        "DURABLE_HEARTBEAT_SECONDS": str(HEARTBEAT),
    }
    durable.start(gil_ledger, "gil-2", GIL_HOLD, _seconds_per_million(), 2, run_id="gil-2")
    owner = start_worker(**env)
    sweeper = None
    try:
        wait_for(lambda: side_effects("gil-2").get("gil-0") == 1, 60, "the first GIL step")
        sweeper = start_worker(**env)  # judges the owner while its step holds the GIL
        wait_for(lambda: Run.objects.get(id="gil-2").status == "SUCCESS", 120, "the run")
    finally:
        logs = stop(owner) + (stop(sweeper) if sweeper else "")
    run = Run.objects.get(id="gil-2")
    assert (run.output, run.recovery_count) == (2, 0), logs[-3000:]
    assert not Recovery.objects.filter(run_id="gil-2").exists()
    assert side_effects("gil-2") == {"gil-0": 1, "gil-1": 1}
