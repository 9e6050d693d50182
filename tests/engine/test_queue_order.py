"""A limited queue starts its runs in priority order, then first in first out."""

from __future__ import annotations

import pytest

import durable
from durable import executors
from durable.models import Run, RunStatus
from tests.engine import celery_processes
from tests.engine.celery_processes import create_span_table
from tests.engine.celery_workflows import ranked
from tests.engine.processes import wait_for

celery_cluster = celery_processes.celery_cluster


def start_order(prefix: str) -> list[str]:
    runs = Run.objects.filter(id__startswith=prefix).order_by("started_at")
    return list(runs.values_list("id", flat=True))


def finished(prefix: str) -> int:
    return Run.objects.filter(id__startswith=prefix, status=RunStatus.SUCCESS).count()


def start_waiting(prefix: str, priorities: list[int]) -> list[str]:
    return [
        durable.start(ranked, f"{prefix}-{i}", 0.02, run_id=f"{prefix}-{i}", priority=p).run_id
        for i, p in enumerate(priorities)
    ]


@pytest.fixture
def waiting(settings, side_effects):
    """Runs started here wait, ENQUEUED, until the test starts an executor."""
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_POLL_SECONDS = 0.1
    create_span_table()
    return start_waiting


def test_the_thread_executor_starts_a_limited_queue_first_in_first_out(waiting):
    run_ids = waiting("fifo", [0] * 7)
    executors.start_thread_executor(threads=4)
    wait_for(lambda: finished("fifo-") == 7, 30, "the queued runs to finish")
    assert start_order("fifo-") == run_ids


def test_the_thread_executor_starts_higher_priorities_first(waiting):
    run_ids = waiting("prio", [1, 5, 1, 5, 1, 5, 9])
    executors.start_thread_executor(threads=4)
    wait_for(lambda: finished("prio-") == 7, 30, "the queued runs to finish")
    expected = [run_ids[6], run_ids[1], run_ids[3], run_ids[5], run_ids[0], run_ids[2], run_ids[4]]
    assert start_order("prio-") == expected


@pytest.mark.slow
def test_a_celery_worker_starts_a_limited_queue_by_priority_then_fifo(celery_cluster):
    create_span_table()
    run_ids = start_waiting("cel", [1, 5, 1, 5, 1, 5, 9])
    celery_cluster.start(1)
    wait_for(lambda: finished("cel-") == 7, 60, "the queued runs to finish")
    expected = [run_ids[6], run_ids[1], run_ids[3], run_ids[5], run_ids[0], run_ids[2], run_ids[4]]
    assert start_order("cel-") == expected
