"""Failure hotspots: every step failure that happened, grouped by workflow, step, error type
and fingerprint, with the lifecycle of the runs it hit.

Failures are the final failed attempts of steps (attempt_final_idx): durable_attempt keeps
them after the run is resumed (a resume drops the failed checkpoint), so resolving part of
a group never rewrites its first-seen time or its trend. Each failure is joined to its run
by primary key for the workflow, today's status and a successful fork or restart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dashboard.queries.sql import aggregate

TREND_BUCKETS = 24

FIRST_FAILURE = """
-- first_failure --
-- The oldest failure in the window (one probe of attempt_final_idx), so the trend's
-- buckets span the data, not an empty window
SELECT min(finished_at) AS first FROM durable_attempt WHERE final AND finished_at >= %(since)s
"""

HOTSPOTS = """
-- hotspots --
-- Failed attempts in the window, grouped, with per-bucket trend counts, the latest message,
-- and per group how many runs are resolved (succeeded since), superseded (a fork or restart
-- of it exists, whatever its outcome: durable.operations._superseded) or still failing;
-- the window is scanned once (MATERIALIZED)
WITH failed AS MATERIALIZED (
    SELECT r.workflow, a.name, a.error_type, a.error_fingerprint, a.finished_at, a.run_id,
           r.status AS run_status, r.superseded, a.id AS attempt_id,
           least(floor(extract(epoch FROM a.finished_at - %(since)s) / %(bucket_s)s),
                 %(last_bucket)s)::int AS bucket
    FROM durable_attempt a
    -- one primary-key probe per failure (OFFSET 0 keeps the planner from hashing the
    -- whole run table instead), and one probe of run_forked_from_idx for a successor
    CROSS JOIN LATERAL (
        SELECT workflow, status, EXISTS (
            SELECT 1 FROM durable_run f WHERE f.forked_from_id = a.run_id
        ) AS superseded
        FROM durable_run WHERE id = a.run_id OFFSET 0
    ) AS r
    WHERE a.final AND a.finished_at >= %(since)s AND a.finished_at < %(until)s
), per_run AS (
    -- each affected run once per group, so the group's run counts need no DISTINCT
    SELECT workflow, name, error_type, error_fingerprint, run_id, run_status, superseded,
           count(*) AS failures, min(finished_at) AS first_at, max(finished_at) AS last_at,
           (array_agg(attempt_id ORDER BY finished_at DESC))[1] AS last_attempt
    FROM failed GROUP BY 1, 2, 3, 4, 5, 6, 7
), groups AS (
    SELECT workflow, name, error_type, error_fingerprint, sum(failures)::bigint AS failures,
           count(*) AS runs,
           count(*) FILTER (WHERE run_status IN ('ERROR', 'DEAD') AND NOT superseded)
               AS still_failed,
           count(*) FILTER (WHERE superseded) AS superseded,
           count(*) FILTER (WHERE run_status = 'SUCCESS' AND NOT superseded) AS recovered,
           min(first_at) AS first_seen, max(last_at) AS last_seen,
           (array_agg(last_attempt ORDER BY last_at DESC))[1] AS sample_attempt,
           (array_agg(run_id ORDER BY last_at DESC))[1] AS sample_run
    FROM per_run
    GROUP BY workflow, name, error_type, error_fingerprint
    ORDER BY failures DESC
    LIMIT %(limit)s
), buckets AS MATERIALIZED (
    SELECT workflow, name, error_fingerprint, bucket, count(*) AS n
    FROM failed GROUP BY workflow, name, error_fingerprint, bucket
), trends AS (
    SELECT g.workflow, g.name, g.error_fingerprint,
           array_agg(coalesce(b.n, 0) ORDER BY slot) AS trend
    FROM groups g CROSS JOIN generate_series(0, %(last_bucket)s) AS slot
    LEFT JOIN buckets b ON b.workflow = g.workflow AND b.name = g.name
         AND b.error_fingerprint = g.error_fingerprint AND b.bucket = slot
    GROUP BY g.workflow, g.name, g.error_fingerprint
)
-- the latest message of each group, read for its sample attempt only (rows stay narrow)
SELECT g.*, t.trend, g.superseded + g.recovered AS resolved, m.error->>'message' AS message
FROM groups g JOIN trends t USING (workflow, name, error_fingerprint)
JOIN durable_attempt m ON m.id = g.sample_attempt
ORDER BY failures DESC
"""


def hotspots(since: datetime, until: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """The largest failure groups in the window, each with a trend of TREND_BUCKETS counts
    over the span that has failures (from the window's first failure to now)."""
    first = aggregate(FIRST_FAILURE, {"since": since})[0]["first"]
    since = max(since, first) if first else since
    bucket = max((until - since) / TREND_BUCKETS, timedelta(seconds=1))
    params = {
        "since": since,
        "until": until,
        "bucket_s": bucket.total_seconds(),
        "last_bucket": TREND_BUCKETS - 1,
        "limit": limit,
    }
    groups = aggregate(HOTSPOTS, params)
    for group in groups:
        group["bucket"] = bucket
        group["trend_since"] = since
    return groups


def window_bounds(window: timedelta) -> tuple[datetime, datetime]:
    from django.utils import timezone

    until = timezone.now()
    return until - window, until
