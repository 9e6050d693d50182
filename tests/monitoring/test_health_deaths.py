"""Health that matches reality after a death: an executor whose process died is known dead
within seconds (its lifeline lock is gone and it has been silent three heartbeats, the
recovery verdict's rule), so `/health` stops counting it at once, not two leases later."""

from __future__ import annotations

import signal
import time

import pytest

from durable.models import Executor
from tests.engine.processes import start_worker, stop, wait_for

pytestmark = pytest.mark.slow


def test_health_stops_counting_a_killed_executor_within_seconds(
    transactional_db, client, short_lease
):
    worker = start_worker(DURABLE_MODULES="tests.monitoring.workflows")
    try:
        wait_for(Executor.objects.exists, 30, "the worker's heartbeat")
        wait_for(lambda: client.get("/health").json()["status"] == "ok", 10, "/health ok")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        killed = time.monotonic()
        wait_for(lambda: client.get("/health").status_code == 503, 10, "/health to say 503")
        assert time.monotonic() - killed < 5  # not two leases (8 s): the lifeline rule
        executors = client.get("/health").json()["checks"]["executors"]
        assert not executors["ok"] and "start a worker" in executors["detail"]
    finally:
        stop(worker)
