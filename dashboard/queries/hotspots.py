"""Failure hotspots: final step failures grouped by workflow, step, error type and fingerprint.

The window scan runs on step_failed_idx (partial: status = 'ERROR'), joined to the run by
primary key for its workflow; trend buckets are counted in the same statement.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection

TREND_BUCKETS = 24

HOTSPOTS = """
-- hotspots --
-- Failed checkpoints in the window, grouped, with a per-bucket trend and a sample message
WITH failed AS (
    SELECT r.workflow, s.name, s.error_type, s.error_fingerprint, s.finished_at, s.run_id,
           r.status AS run_status,
           least(floor(extract(epoch FROM s.finished_at - %(since)s) / %(bucket_s)s),
                 %(last_bucket)s)::int AS bucket
    FROM durable_step s JOIN durable_run r ON r.id = s.run_id
    WHERE s.status = 'ERROR' AND s.finished_at >= %(since)s AND s.finished_at < %(until)s
)
SELECT workflow, name, error_type, error_fingerprint, count(*) AS failures,
       count(DISTINCT run_id) AS runs,
       count(DISTINCT run_id) FILTER (WHERE run_status IN ('ERROR', 'DEAD')) AS still_failed,
       min(finished_at) AS first_seen, max(finished_at) AS last_seen,
       (SELECT array_agg(coalesce(c, 0) ORDER BY b) FROM generate_series(0, %(last_bucket)s) b
        LEFT JOIN (SELECT bucket, count(*) AS c FROM failed f2
                   WHERE f2.workflow = f.workflow AND f2.name = f.name
                     AND f2.error_fingerprint = f.error_fingerprint GROUP BY bucket) t
        ON t.bucket = b) AS trend
FROM failed f
GROUP BY workflow, name, error_type, error_fingerprint
ORDER BY failures DESC
LIMIT %(limit)s
"""

SAMPLE_MESSAGE = """
-- hotspot_sample --
-- The latest message of one group, shown as its title (one index probe per group)
SELECT error->>'message', run_id FROM durable_step
WHERE status = 'ERROR' AND error_fingerprint = %(fingerprint)s AND name = %(name)s
  AND finished_at >= %(since)s AND finished_at < %(until)s
ORDER BY finished_at DESC LIMIT 1
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
    with connection.cursor() as cursor:
        cursor.execute(HOTSPOTS, params)
        columns = [column.name for column in cursor.description]
        groups = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        for group in groups:
            cursor.execute(
                SAMPLE_MESSAGE,
                {
                    "fingerprint": group["error_fingerprint"],
                    "name": group["name"],
                    "since": since,
                    "until": until,
                },
            )
            group["message"], group["sample_run"] = cursor.fetchone() or ("", "")
    return groups


def window_bounds(window: timedelta) -> tuple[datetime, datetime]:
    from django.utils import timezone

    until = timezone.now()
    return until - window, until
