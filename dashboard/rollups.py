"""Hourly latency histograms, so 7- and 30-day latency pages never scan millions of rows.

Each complete hour is rolled up once from the indexed finish times (step_finished_idx,
run_finished_idx) into `LatencyRollup` rows; the page refreshes the few missing hours
before it reads. Percentiles from the log-scale histogram are within ±7% (BASE = 1.15).
Hours end a minute after the clock hour, so late checkpoints still land in them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from dashboard.models import RollupCursor
from dashboard.queries.latency import ACTIVE, PARKED

BASE = 1.15
TOP_BUCKET = 150
GRACE = timedelta(minutes=1)
KINDS = ("step", "run", "wait", "parked")

_HISTOGRAM = """
INSERT INTO dashboard_latencyrollup (hour, kind, subject, count, failed, buckets, counts)
SELECT hour, %(kind)s, subject, sum(n), sum(failed), array_agg(b ORDER BY b),
       array_agg(n ORDER BY b)
FROM (
    SELECT hour, subject, greatest(0, least(%(top)s,
               floor(ln(greatest(ms, 1)) / ln(%(base)s))))::smallint AS b,
           count(*) AS n, count(*) FILTER (WHERE failed) AS failed
    FROM ({source}) AS source
    GROUP BY 1, 2, 3
) AS per_bucket
GROUP BY hour, subject
ON CONFLICT (kind, subject, hour) DO UPDATE
SET count = EXCLUDED.count, failed = EXCLUDED.failed, buckets = EXCLUDED.buckets,
    counts = EXCLUDED.counts
"""

SOURCES = {
    # step durations by step name (step_finished_idx, index-only)
    "step": """SELECT date_trunc('hour', finished_at) AS hour, name AS subject,
                      duration_ms AS ms, false AS failed
               FROM durable_step WHERE finished_at >= %(start)s AND finished_at < %(end)s""",
    # run active time by workflow (run_finished_idx)
    "run": f"""SELECT date_trunc('hour', finished_at) AS hour, workflow AS subject,
                     {ACTIVE} AS ms, status <> 'SUCCESS' AS failed
              FROM durable_run WHERE finished_at >= %(start)s AND finished_at < %(end)s
                AND started_at IS NOT NULL""",
    # time a run sat parked between its first start and its finish, by workflow
    "parked": f"""SELECT date_trunc('hour', finished_at) AS hour, workflow AS subject,
                     {PARKED} AS ms, false AS failed
              FROM durable_run WHERE finished_at >= %(start)s AND finished_at < %(end)s
                AND started_at IS NOT NULL""",
    # queue wait (enqueued -> started) by workflow, counted when the run finishes
    "wait": """SELECT date_trunc('hour', finished_at) AS hour, workflow AS subject,
                      extract(epoch FROM started_at - created_at) * 1000 AS ms, false AS failed
               FROM durable_run WHERE finished_at >= %(start)s AND finished_at < %(end)s
                 AND started_at IS NOT NULL""",
}

OLDEST = {
    "step": "SELECT min(finished_at) FROM durable_step",
    "run": "SELECT min(finished_at) FROM durable_run",
    "wait": "SELECT min(finished_at) FROM durable_run",
    "parked": "SELECT min(finished_at) FROM durable_run",
}


def refresh(max_hours: int | None = 168, now: datetime | None = None) -> int:
    """Roll up the complete hours not rolled up yet, oldest first and at most `max_hours`
    per kind and call (so a page view stays bounded and the next one continues without
    gaps); returns the hours written."""
    complete = _hour((now or timezone.now()) - GRACE)
    written = 0
    for kind in KINDS:
        cursor = RollupCursor.objects.filter(kind=kind).first()
        start = cursor.through if cursor else _oldest(kind)
        if start is None or start >= complete:
            continue
        end = complete if max_hours is None else min(complete, start + timedelta(hours=max_hours))
        _roll(kind, start, end)
        written += int((end - start) / timedelta(hours=1))
    return written


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _oldest(kind: str) -> datetime | None:
    with connection.cursor() as cursor:
        cursor.execute(OLDEST[kind])
        oldest = cursor.fetchone()[0]
    return _hour(oldest) if oldest else None


def _roll(kind: str, start: datetime, end: datetime) -> None:
    sql = _HISTOGRAM.format(source=SOURCES[kind])
    params = {"kind": kind, "start": start, "end": end, "top": TOP_BUCKET, "base": BASE}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        RollupCursor.objects.update_or_create(kind=kind, defaults={"through": end})
