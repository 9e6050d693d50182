"""Latency percentiles per workflow and per step, and over time, computed in SQL.

Run timings come from run_finished_idx (finished_at range); step timings from
step_finished_idx, which carries name and duration_ms so the scan never visits the heap.
Execution is a run's active time (`durable.core.store._durations`: time in steps and attempts), with
the time it sat parked (failed before a resume, sleeping, waiting) and its queue wait
(created -> started) reported apart, so one resume an hour later does not read as an
hour-long run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dashboard.queries import partition_bounds
from dashboard.queries.sql import read_atomic, read_cursor

# a finished run's active ms (runs finished before active_ms existed: started -> finished)
ACTIVE = "coalesce(active_ms, extract(epoch FROM finished_at - started_at) * 1000)"
PARKED = f"greatest(extract(epoch FROM finished_at - started_at) * 1000 - {ACTIVE}, 0)"

WORKFLOW_LATENCY = f"""
-- workflow_latency --
-- Per workflow: runs finished in the window, active, parked and queue-wait percentiles in ms
SELECT * FROM (
SELECT workflow, count(*) AS runs,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY {ACTIVE}) AS run_ms,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY
           extract(epoch FROM started_at - created_at) * 1000) AS wait_ms,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY {PARKED}) AS parked_ms,
       count(*) FILTER (WHERE status <> 'SUCCESS') AS failed
FROM durable_run
WHERE finished_at >= %(since)s AND finished_at < %(until)s AND started_at IS NOT NULL
GROUP BY workflow
) AS per_workflow
ORDER BY run_ms[2] DESC NULLS LAST
"""

STEP_LATENCY = """
-- step_latency --
-- Per step name (all, or the given ones): checkpoints finished in the window, duration
-- percentiles, slowest first
SELECT * FROM (
SELECT name, count(*) AS steps,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms) AS ms
FROM durable_step
WHERE finished_at >= %(since)s AND finished_at < %(until)s
  AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s::text[]))
GROUP BY name
) AS per_step
ORDER BY ms[2] DESC NULLS LAST
LIMIT 100
"""

LATENCY_OVER_TIME = f"""
-- latency_over_time --
-- Run active-time percentiles per time bucket, optionally for one workflow
SELECT date_bin(%(bucket)s, finished_at, %(since)s) AS bucket, count(*) AS runs,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY {ACTIVE}) AS ms
FROM durable_run
WHERE finished_at >= %(since)s AND finished_at < %(until)s AND started_at IS NOT NULL
  AND (%(workflow)s = '' OR workflow = %(workflow)s)
GROUP BY 1 ORDER BY 1
"""


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of one aggregation, JIT off (see `dashboard.queries.sql.aggregate`)."""
    with read_atomic(), read_cursor() as cursor:
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
            "parked": _percentiles(parked_ms),
        }
        for workflow, runs, run_ms, wait_ms, parked_ms, failed in rows
    ]


def step_latency(
    since: datetime, until: datetime, names: list[str] | None = None
) -> list[dict[str, Any]]:
    """Every step name's percentiles, or only `names` (a workflow's steps)."""
    rows = _rows(STEP_LATENCY, {"since": since, "until": until, "names": names})
    return [{"name": name, "count": count, **_percentiles(ms)} for name, count, ms in rows]


LATEST_RUNS = """
-- latest_runs --
-- A workflow's latest runs (run_workflow_created_idx), whose steps say what "this
-- workflow's steps" means on the latency page
SELECT id, created_at FROM durable_run WHERE workflow = %(workflow)s
ORDER BY created_at DESC, id DESC LIMIT 200
"""

STEP_NAMES_OF_RUNS = """
-- step_names_of_runs --
-- The step names these runs recorded (the (run, position) index in each run's partition).
-- Their creation times, bounded by constants (partition_bounds), prune the other days'
-- partitions while the statement is planned, the run's own time the rest as it runs (by
-- the run rows' created_at alone, every partition kept was planned).
-- OFFSET 0 keeps the steps' read a subquery run once per run: flattened into a join, the
-- planner may pick a hash join over every partition of those days, as statistics shift
SELECT DISTINCT s.name
FROM unnest(%(run_ids)s::text[], %(created)s::timestamptz[]) AS r(id, created_at)
CROSS JOIN LATERAL (
    SELECT name FROM durable_step
    WHERE run_id = r.id AND run_created_at = r.created_at AND {within}
      AND kind IN ('step', 'transaction')
    OFFSET 0
) AS s
"""


def workflow_step_names(workflow: str) -> list[str]:
    """The step names of the workflow's latest 200 runs: two round trips, so the runs'
    creation times are constants of the second one (docs/partitioning.md)."""
    runs = _rows(LATEST_RUNS, {"workflow": workflow})
    if not runs:
        return []
    ids, created = [run_id for run_id, _ in runs], [created for _, created in runs]
    within, bounds = partition_bounds.within_named(created)
    sql = STEP_NAMES_OF_RUNS.replace("{within}", within)
    return sorted(row[0] for row in _rows(sql, {"run_ids": ids, "created": created, **bounds}))


FIRST_STEP_FINISHED = """
-- first_step_finished --
-- The oldest checkpoint in the window (one probe of step_finished_idx)
SELECT min(finished_at) FROM durable_step WHERE finished_at >= %(since)s
"""

STEP_OVER_TIME = """
-- step_over_time --
-- Duration percentiles per time bucket for each of the given step names
SELECT name, date_bin(%(bucket)s, finished_at, %(since)s) AS bucket, count(*) AS steps,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms) AS ms
FROM durable_step
WHERE finished_at >= %(since)s AND finished_at < %(until)s AND name = ANY(%(names)s)
GROUP BY 1, 2 ORDER BY 1, 2
"""


def step_over_time(
    since: datetime, until: datetime, names: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Per step name, its percentiles per bucket (buckets sized like the run chart's)."""
    if not names:
        return {}
    first = _rows(FIRST_STEP_FINISHED, {"since": since})[0][0]
    start = max(since, first) if first else since
    params = {"since": start, "until": until, "names": names, "bucket": bucket_for(until - start)}
    series: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for name, bucket, count, ms in _rows(STEP_OVER_TIME, params):
        series[name].append({"bucket": bucket, "runs": count, **_percentiles(ms)})
    return {name: rows for name, rows in series.items() if rows}


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


def _first_finish(since: datetime) -> datetime | None:
    first = _rows(FIRST_FINISHED, {"since": since})[0][0]
    return max(since, first) if first else None


def latency_over_time(since: datetime, until: datetime, workflow: str = "") -> list[dict[str, Any]]:
    """Percentiles per bucket; buckets are sized to the span that has data, not the window."""
    start = _first_finish(since) or since
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
