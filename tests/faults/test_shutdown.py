"""Graceful shutdown: SIGTERM releases runs at a step boundary, no recovery, no lease wait."""

from __future__ import annotations

import signal
import time

import pytest

import durable
from durable.models import Run
from tests.engine.processes import start_worker, steps_recorded, stop, wait_for
from tests.faults.workflows import hung_forever, ledger

pytestmark = pytest.mark.slow

FAULTS = {"DURABLE_MODULES": "tests.faults.workflows", "DURABLE_LEASE_SECONDS": "30"}


@pytest.fixture
def external_executor(settings):
    settings.DURABLE_EXECUTOR = "external"


def test_sigterm_releases_a_run_at_its_next_step_without_a_recovery(
    side_effects, external_executor
):
    durable.start(ledger, "term-1", 40, 0.1, run_id="term-1")
    worker = start_worker(**FAULTS)
    try:
        wait_for(lambda: steps_recorded("term-1") >= 4, 30, "4 checkpoints")
        worker.send_signal(signal.SIGTERM)
        worker.wait(10)
        run = Run.objects.get(id="term-1")
        assert (run.status, run.executor_id, run.recovery_count) == ("ENQUEUED", None, 0)
        began = time.monotonic()
        worker = start_worker(**FAULTS)
        wait_for(lambda: Run.objects.get(id="term-1").status == "SUCCESS", 60, "the run to end")
        assert time.monotonic() - began < 20, "the released run waited out a lease"
    finally:
        logs = stop(worker)
    assert Run.objects.get(id="term-1").recovery_count == 0, logs
    assert side_effects("term-1") == {f"txn-{i}": 1 for i in range(40)}


def test_a_run_still_in_a_step_after_the_grace_period_is_released(
    transactional_db, external_executor
):
    durable.start(hung_forever, run_id="term-2")
    worker = start_worker(**FAULTS, DURABLE_SHUTDOWN_GRACE_SECONDS="1")
    try:
        wait_for(lambda: Run.objects.get(id="term-2").status == "RUNNING", 30, "the run to start")
        began = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(10)
        assert time.monotonic() - began < 5
    finally:
        logs = stop(worker)
    run = Run.objects.get(id="term-2")
    assert (run.status, run.executor_id, run.recovery_count) == ("ENQUEUED", None, 0), logs
