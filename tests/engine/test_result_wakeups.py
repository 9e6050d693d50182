"""result() of a run executing in another process is woken by the run's finish (NOTIFY
when it commits), not found by polling: it returns within a few ms of the finish and reads
the row only at the bounded fallback polls."""

from __future__ import annotations

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

import durable
from durable.models import Run
from tests.engine.processes import start_worker, stop, wait_for
from tests.engine.workflows import slow_ledger


def test_result_of_a_run_in_another_process_is_woken_by_its_finish(side_effects, settings):
    settings.DURABLE_EXECUTOR = "external"  # this process only starts and waits
    worker = start_worker()
    try:
        handle = durable.start(slow_ledger, "far-wake", 1, 2.0, run_id="far-wake")
        wait_for(lambda: Run.objects.get(id="far-wake").status == "RUNNING", 60, "a claim")
        with CaptureQueriesContext(connection) as queries:
            assert handle.result(timeout=30) == 1
            returned = time.time()
    finally:
        stop(worker)
    reads = [query for query in queries if "-- run_outcome --" in query["sql"]]
    assert len(reads) <= 7  # a first read and fallback polls; polling every few ms: ~16
    assert returned - Run.objects.get(id="far-wake").finished_at.timestamp() < 0.1
