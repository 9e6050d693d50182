"""Failure hotspots: final step failures grouped by workflow, step, error type and fingerprint.

The window scan runs on step_failed_idx (partial: status = 'ERROR'), joined to the run by
primary key for its workflow; trend buckets are counted in the same statement.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dashboard.queries.sql import aggregate

TREND_BUCKETS = 24

HOTSPOTS = """
-- hotspots --
-- Failed checkpoints in the window, grouped, with per-bucket trend counts and the latest
-- message of each group; the window is scanned once (the CTE is materialized)
WITH failed AS MATERIALIZED (
    SELECT r.workflow, s.name, s.error_type, s.error_fingerprint, s.finished_at, s.run_id,
           r.status AS run_status, s.error->>'message' AS message,
           least(floor(extract(epoch FROM s.finished_at - %(since)s) / %(bucket_s)s),
                 %(last_bucket)s)::int AS bucket
    FROM durable_step s
    -- one primary-key probe per failed step; OFFSET 0 keeps the planner from hashing
    -- the whole run table instead
    CROSS JOIN LATERAL (
        SELECT workflow, status FROM durable_run WHERE id = s.run_id OFFSET 0
    ) AS r
    WHERE s.status = 'ERROR' AND s.finished_at >= %(since)s AND s.finished_at < %(until)s
), groups AS (
    SELECT workflow, name, error_type, error_fingerprint, count(*) AS failures,
           count(DISTINCT run_id) AS runs,
           count(DISTINCT run_id) FILTER (WHERE run_status IN ('ERROR', 'DEAD')) AS still_failed,
           min(finished_at) AS first_seen, max(finished_at) AS last_seen,
           (array_agg(message ORDER BY finished_at DESC))[1] AS message,
           (array_agg(run_id ORDER BY finished_at DESC))[1] AS sample_run
    FROM failed
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
SELECT g.*, t.trend
FROM groups g JOIN trends t USING (workflow, name, error_fingerprint)
ORDER BY failures DESC
"""


def hotspots(since: datetime, until: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """The largest failure groups in the window, each with a trend of TREND_BUCKETS counts."""
    bucket = (until - since) / TREND_BUCKETS
    params = {
        "since": since,
        "until": until,
        "bucket_s": bucket.total_seconds(),
        "last_bucket": TREND_BUCKETS - 1,
        "limit": limit,
    }
    return aggregate(HOTSPOTS, params)


def window_bounds(window: timedelta) -> tuple[datetime, datetime]:
    from django.utils import timezone

    until = timezone.now()
    return until - window, until
