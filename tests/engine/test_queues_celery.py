"""Queue limits hold across Celery worker processes (measured by the step bodies)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

import durable
from durable.models import Run, RunStatus
from tests.engine import celery_processes
from tests.engine.celery_processes import create_span_table, max_overlap
from tests.engine.celery_workflows import (
    LIMITED,
    PER_WORKER,
    RANKED,
    RATED,
    limited,
    per_worker,
    ranked,
    rated,
)
from tests.engine.processes import wait_for

pytestmark = pytest.mark.slow
celery_cluster = celery_processes.celery_cluster


def finished(prefix: str) -> int:
    return Run.objects.filter(id__startswith=prefix, status=RunStatus.SUCCESS).count()


def test_a_concurrency_limit_is_never_exceeded_across_two_workers(celery_cluster):
    create_span_table()
    celery_cluster.start(2, threads=2)  # the limit (3) is reached only if both workers run some
    runs = 24
    for index in range(runs):
        durable.start(limited, f"conc-{index}", 0.15, run_id=f"conc-{index}")
    wait_for(lambda: finished("conc-") == runs, 60, "the limited runs to finish")
    assert max_overlap() == LIMITED.concurrency  # reached, never exceeded
    executors = Run.objects.filter(id__startswith="conc-").values("executor_id").distinct()
    assert executors.count() == 2, "both workers took runs of the queue"


def test_worker_concurrency_holds_per_worker(celery_cluster):
    create_span_table()
    celery_cluster.start(2)
    for index in range(8):
        durable.start(per_worker, f"per-{index}", 0.15, run_id=f"per-{index}")
    wait_for(lambda: finished("per-") == 8, 60, "the per-worker runs to finish")
    assert max_overlap() <= 2 * PER_WORKER.worker_concurrency
    with connection.cursor() as cursor:  # spans of one executor never overlap
        cursor.execute(
            "SELECT max(running) FROM (SELECT sum(CASE s.event WHEN 'start' THEN 1 ELSE -1 END)"
            " OVER (PARTITION BY r.executor_id ORDER BY s.at,"
            " CASE s.event WHEN 'end' THEN 0 ELSE 1 END, s.id) AS running"
            " FROM test_span s JOIN durable_run r ON r.id = s.run_id) t"
        )
        assert cursor.fetchone()[0] == PER_WORKER.worker_concurrency


def test_a_rate_limit_holds_across_two_workers(celery_cluster):
    create_span_table()
    celery_cluster.start(2)
    runs = 14
    for index in range(runs):
        durable.start(rated, f"rate-{index}", run_id=f"rate-{index}")
    wait_for(lambda: finished("rate-") == runs, 60, "the rate-limited runs to finish")
    count, seconds = RATED.rate_limit
    window = timedelta(seconds=seconds)
    starts = sorted(Run.objects.filter(id__startswith="rate-").values_list("started_at", flat=True))
    for index in range(len(starts) - count):  # any count+1 starts span more than a window
        assert starts[index + count] - starts[index] >= window, starts
    with connection.cursor() as cursor:  # and the step bodies saw the same pacing
        cursor.execute("SELECT max(at) - min(at) FROM test_span WHERE event = 'start'")
        spread = cursor.fetchone()[0]
    assert spread >= window * ((runs - 1) // count) * 0.9, spread


def test_a_priority_queue_runs_higher_priorities_first(celery_cluster):
    create_span_table()
    celery_cluster.start(1)
    durable.start(ranked, "rank-blocker", 0.5, run_id="rank-blocker")
    wait_for(
        lambda: Run.objects.filter(id="rank-blocker", status="RUNNING").exists(),
        30,
        "the blocker to run",
    )
    for index in range(3):
        durable.start(ranked, f"rank-low-{index}", 0, run_id=f"rank-low-{index}", priority=1)
    for index in range(3):
        durable.start(ranked, f"rank-high-{index}", 0, run_id=f"rank-high-{index}", priority=5)
    wait_for(lambda: finished("rank-") == 7, 60, "the ranked runs to finish")
    order = list(
        Run.objects.filter(id__startswith="rank-")
        .order_by("started_at")
        .values_list("id", flat=True)
    )
    assert order[0] == "rank-blocker"
    assert all(run_id.startswith("rank-high-") for run_id in order[1:4]), order
    assert RANKED.concurrency == 1
