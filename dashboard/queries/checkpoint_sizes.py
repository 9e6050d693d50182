"""Checkpoint sizes and CPU share per step, for the latency page.

Sizes are PostgreSQL's stored size of the output (`pg_column_size`, after compression),
what a step costs the database per run. Reading outputs visits the heap, so windows are
capped at a day: the figure answers "which step writes big checkpoints", not history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from durable.core.store import execute

LONGEST_WINDOW = timedelta(days=1)

STEP_SIZES = """
-- step_checkpoint_sizes --
-- Per step name: checkpoints in the window, average and largest stored output in bytes,
-- and CPU time over wall time (near 1: working; near 0: waiting on I/O or locks), largest
-- first (range over step_finished_idx, outputs from the heap)
SELECT name, count(*), avg(COALESCE(pg_column_size(output), 0)),
    max(COALESCE(pg_column_size(output), 0)), sum(cpu_ms) / NULLIF(sum(duration_ms), 0)
FROM durable_step
WHERE finished_at >= %(since)s AND finished_at < %(until)s
    AND kind IN ('step', 'transaction') AND status = 'SUCCESS'
GROUP BY name
ORDER BY 4 DESC, 1
LIMIT 100
"""


def step_sizes(since: datetime, until: datetime) -> list[dict[str, Any]]:
    since = max(since, until - LONGEST_WINDOW)
    rows = execute(STEP_SIZES, {"since": since, "until": until})
    return [
        {
            "name": name,
            "count": count,
            "avg_bytes": float(avg),
            "max_bytes": largest,
            "cpu_share": None if share is None else min(float(share), 1.0),
        }
        for name, count, avg, largest, share in rows
    ]
