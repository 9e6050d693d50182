"""The dashboard's heaviest reads stay on indexes that hold their filters: at a million
runs a plan that intersects two whole index ranges, or reads every heap row of a window,
is what put a page over its budget (bench/dashboard_pages.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from dashboard.queries import checkpoint_sizes
from dashboard.queries.runs import RunFilter, counts_per_status_sql, filtered_runs
from durable.models import Run


def _rare(n: int, rare: str, common: str, slot: int) -> str:
    """`rare` for one row in 150, else `common`."""
    return rare if n % 150 == slot else common


@pytest.fixture
def queued_runs(transactional_db):
    """1,500 analyzed runs; queue q3 holds 10 of them, of several statuses."""
    statuses = ("SUCCESS", "ERROR", "DEAD", "CANCELLED")
    Run.objects.bulk_create(
        Run(
            id=f"plan-{n}",
            workflow="w",
            status=statuses[n % 4],
            queue=_rare(n, "q3", "default", 3),
            input={},
        )  # fmt: skip
        for n in range(1500)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE durable_run")


def _plan(sql: str, params: list) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_status_counts_under_a_queue_read_one_range_of_its_index_per_status(queued_runs):
    run_filter = RunFilter(queue="q3")
    base = filtered_runs(run_filter.without_status())
    plan = _plan(*counts_per_status_sql(base, run_filter.count_cap()))
    assert "BitmapAnd" not in plan, plan
    for status in ("SUCCESS", "ERROR", "CANCELLED", "DEAD"):  # the active ones: small indexes
        served = f"Index Cond: ((queue = 'q3'::text) AND (status = '{status}'::text))"
        assert served in plan and "Index Only Scan using run_queue_status_idx" in plan, plan


def test_checkpoint_sizes_stop_after_the_newest_checkpoints_of_the_window(transactional_db):
    """Outputs come from the heap, so the page reads a bounded number of them: a backward
    range over step_finished_idx under a LIMIT, never the whole day."""
    until = timezone.now()
    plan = checkpoint_sizes.sizes_query(until - timedelta(hours=24), until).explain()
    assert "Index Scan Backward using step_finished_idx" in plan, plan
    assert "Limit  (cost" in plan and "Seq Scan on durable_step" not in plan, plan
