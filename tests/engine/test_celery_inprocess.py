"""The Celery task path in process: Celery's own consumer on the memory:// transport."""

from __future__ import annotations

import logging

import pytest
from celery import current_app
from celery.contrib.testing.worker import start_worker

import durable
from durable.executors import celery as celery_executor
from durable.executors.celery import CeleryDispatcher
from durable.models import Run
from tests.engine.celery_processes import use_broker
from tests.engine.celery_workflows import ticks


@pytest.fixture
def memory_worker(settings, side_effects):
    """A Celery worker thread in this process, consuming a memory:// queue."""
    import durable.executors.tasks  # noqa: F401 - registers durable.execute_run on the app

    settings.DURABLE_EXECUTOR = "celery"
    settings.DURABLE_CELERY_QUEUE = "durable-test-memory"
    app = current_app._get_current_object()
    reuse, app.conf.CELERY_DB_REUSE_MAX = app.conf.CELERY_DB_REUSE_MAX, None  # close per task
    options, app.conf.broker_transport_options = (
        app.conf.broker_transport_options,
        {"polling_interval": 0.01},
    )
    root = logging.getLogger()
    level = root.level  # Celery's test worker sets the root logger to ERROR and leaves it:
    # every later test's INFO and WARNING records would never be made (step logs, caplog)
    with use_broker("memory://"), start_worker(
        app, pool="threads", concurrency=2, perform_ping_check=False,
        queues=["durable-test-memory"], shutdown_timeout=10,
    ):  # fmt: skip
        try:
            yield app
        finally:
            celery_executor.stop_worker()
            app.conf.CELERY_DB_REUSE_MAX = reuse
            app.conf.broker_transport_options = options
            root.setLevel(level)


def test_durable_start_sends_a_message_that_a_celery_worker_executes(memory_worker):
    handle = durable.start(ticks, "mem-1", 2, 0, run_id="mem-1")
    assert handle.result(timeout=20) == 2
    run = Run.objects.get(id="mem-1")
    assert run.executor_id.startswith("celery:")


@pytest.mark.slow
def test_a_duplicate_message_for_a_finished_run_does_nothing(memory_worker, side_effects):
    durable.start(ticks, "mem-2", 1, 0, run_id="mem-2").result(timeout=20)
    assert celery_executor.current_worker().execute("mem-2") is False
    CeleryDispatcher().dispatch("mem-2")
    durable.start(ticks, "mem-3", 1, 0, run_id="mem-3").result(timeout=20)
    assert side_effects("mem-2") == {"plain-0": 1, "txn-0": 1}
