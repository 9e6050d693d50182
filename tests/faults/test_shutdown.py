"""Graceful shutdown: SIGTERM releases runs at a step boundary, no recovery, no lease wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from celery.signals import worker_shutting_down
from django.db import connection

import durable
import durable.executors.tasks  # noqa: F401 - connects the Celery signal handlers
from durable.executors import celery as celery_executor
from durable.models import Run
from tests.engine.processes import (
    PROJECT_DIR,
    database_url_for_tests,
    start_worker,
    steps_recorded,
    stop,
    wait_for,
)
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


def test_a_process_that_exits_releases_its_runs_as_a_gunicorn_reload_does(side_effects):
    """A web process with the thread executor (gunicorn's worker exits on a reload)."""
    code = (
        "import time, durable; from tests.faults.workflows import ledger;"
        " durable.start(ledger, 'exit-1', 40, 0.1, run_id='exit-1'); time.sleep(1.5)"
    )
    env = {**os.environ, "DATABASE_URL": database_url_for_tests(), "DURABLE_EXECUTOR": "thread"}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=PROJECT_DIR, env=env,
        capture_output=True, timeout=60,
    )  # fmt: skip
    run = Run.objects.get(id="exit-1")
    assert 0 < run.steps.count() < 80, done.stderr.decode()[-2000:]
    assert (run.status, run.executor_id, run.recovery_count) == ("ENQUEUED", None, 0)


def test_a_celery_warm_shutdown_releases_runs_at_their_next_step(side_effects, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "warm-1", 40, 0.1, run_id="warm-1")
    worker = celery_executor.CeleryWorker(dispatcher=object())
    worker._lifeline.start()  # a worker claims runs only while its lifeline holds its lock
    monkey = celery_executor._worker
    celery_executor._worker = worker
    try:

        def execute() -> None:
            try:
                worker.execute("warm-1")
            finally:
                connection.close()

        runner = threading.Thread(target=execute)
        runner.start()
        wait_for(lambda: steps_recorded("warm-1") >= 2, 10, "the run to be underway")
        worker_shutting_down.send(sender="celery@test", sig="SIGTERM", how="Warm", exitcode=0)
        runner.join(10)
        assert not runner.is_alive()
    finally:
        celery_executor._worker = monkey
        worker._lifeline.stop()
    run = Run.objects.get(id="warm-1")
    assert (run.status, run.executor_id, run.recovery_count) == ("ENQUEUED", None, 0)
