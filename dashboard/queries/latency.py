"""Latency percentiles per workflow and per step, and over time, computed in SQL.

Run timings come from run_finished_idx (finished_at range); step timings from
step_finished_idx, which carries name and duration_ms so the scan never visits the heap.
Queue wait (created -> started) is reported apart from execution (started -> finished).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

WORKFLOW_LATENCY = """
-- workflow_latency --
-- Per workflow: runs finished in the window, execution and queue-wait percentiles in ms
SELECT * FROM (
SELECT workflow, count(*) AS runs,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY
           extract(epoch FROM finished_at - started_at) * 1000) AS run_ms,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY
           extract(epoch FROM started_at - created_at) * 1000) AS wait_ms,
       count(*) FILTER (WHERE status <> 'SUCCESS') AS failed
FROM durable_run
WHERE finished_at >= %(since)s AND finished_at < %(until)s AND started_at IS NOT NULL
GROUP BY workflow
) AS per_workflow
ORDER BY run_ms[2] DESC NULLS LAST
"""

STEP_LATENCY = """
-- step_latency --
-- Per step name: checkpoints finished in the window, duration percentiles, slowest first
SELECT * FROM (
SELECT name, count(*) AS steps,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms) AS ms
FROM durable_step
WHERE finished_at >= %(since)s AND finished_at < %(until)s
GROUP BY name
) AS per_step
ORDER BY ms[2] DESC NULLS LAST
LIMIT 100
"""

LATENCY_OVER_TIME = """
-- latency_over_time --
-- Run execution percentiles per time bucket, optionally for one workflow
SELECT date_bin(%(bucket)s, finished_at, %(since)s) AS bucket, count(*) AS runs,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY
           extract(epoch FROM finished_at - started_at) * 1000) AS ms
FROM durable_run
WHERE finished_at >= %(since)s AND finished_at < %(until)s AND started_at IS NOT NULL
  AND (%(workflow)s = '' OR workflow = %(workflow)s)
GROUP BY 1 ORDER BY 1
"""


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of one aggregation, JIT off (see `dashboard.queries.sql.aggregate`)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _percentiles(values: list[float] | None) -> dict[str, float | None]:
    p50, p95, p99 = values or (None, None, None)
    return {"p50": p50, "p95": p95, "p99": p99}


def workflow_latency(since: datetime, until: datetime) -> list[dict[str, Any]]:
    rows = _rows(WORKFLOW_LATENCY, {"since": since, "until": until})
    return [
        {
            "workflow": workflow,
            "runs": runs,
            "failed": failed,
            "run": _percentiles(run_ms),
            "wait": _percentiles(wait_ms),
        }
        for workflow, runs, run_ms, wait_ms, failed in rows
    ]


def step_latency(since: datetime, until: datetime) -> list[dict[str, Any]]:
    rows = _rows(STEP_LATENCY, {"since": since, "until": until})
    return [{"name": name, "count": count, **_percentiles(ms)} for name, count, ms in rows]


def bucket_for(window: timedelta) -> timedelta:
    """About 30-70 points whatever the window."""
    for bucket in (
        timedelta(seconds=10),
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=6),
    ):
        if window / bucket <= 72:
            return bucket
    return timedelta(days=1)


FIRST_FINISHED = """
-- first_finished --
-- The oldest finish in the window (one probe of run_finished_idx), so buckets fit the data
SELECT min(finished_at) FROM durable_run WHERE finished_at >= %(since)s
"""


def latency_over_time(since: datetime, until: datetime, workflow: str = "") -> list[dict[str, Any]]:
    """Percentiles per bucket; buckets are sized to the span that has data, not the window."""
    first = _rows(FIRST_FINISHED, {"since": since})[0][0]
    start = max(since, first) if first else since
    params = {
        "since": start,
        "until": until,
        "workflow": workflow,
        "bucket": bucket_for(until - start),
    }
    return [
        {"bucket": bucket, "runs": runs, **_percentiles(ms)}
        for bucket, runs, ms in _rows(LATENCY_OVER_TIME, params)
    ]
