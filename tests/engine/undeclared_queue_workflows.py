"""Workflows on queues this module does NOT declare (DURABLE_MODULES of workers that must
claim within the limits stored by another process: test_queue_limits_stored)."""

from __future__ import annotations

import time

import durable
from tests.engine.celery_workflows import record_span

CONCURRENT = "tests-stored-concurrent"  # declared by the test module only
RATED = "tests-stored-rated"


@durable.step()
def timed(run_id: str, seconds: float) -> None:
    record_span(run_id, "start")
    time.sleep(seconds)
    record_span(run_id, "end")


@durable.workflow(name="tests.stored.concurrent", queue=CONCURRENT)
def concurrent(run_id: str, seconds: float) -> str:
    timed(run_id, seconds)
    return run_id


@durable.workflow(name="tests.stored.rated", queue=RATED)
def rated(run_id: str) -> str:
    return run_id
