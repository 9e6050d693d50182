"""Where a waiting run stands in its queue, and how fast its queue moves.

"Ahead" follows the claims' order: the plain claim (`durable.core.store.due_runs`) takes
due runs by priority, then due time; the queue claim (`claim_in_queue`) the same in a queue
declared with priority=True, else by due time alone. Ties go by run id (the queue claim's
last key; the plain claim has none, so among runs due in the same microsecond either may
go first).
"""

from __future__ import annotations

from durable.core import store
from durable.core.store import execute

RUNS_AHEAD = (
    """
-- runs_ahead --
-- How many due ENQUEUED runs of a run's queue a claim takes before it, in claim order
-- (run_due_idx for ENQUEUED runs by priority and due time)
WITH me AS (
    SELECT r.id, r.queue, r.available_at,
           COALESCE("""
    + store.QUEUE_CLAIMS_APART
    + """ AND NOT q.priority, false) AS flat, r.priority
    FROM durable_run r LEFT JOIN durable_queue q ON q.name = r.queue
    WHERE r.id = %(run_id)s
)
SELECT count(*) FROM durable_run o, me
WHERE o.status = 'ENQUEUED' AND o.available_at <= now() AND o.queue = me.queue
  AND o.id <> me.id
  AND (CASE WHEN me.flat THEN 0 ELSE -o.priority::bigint END, o.available_at, o.id)
    < (CASE WHEN me.flat THEN 0 ELSE -me.priority::bigint END, me.available_at, me.id)
"""
)

QUEUE_STARTS = """
-- queue_starts --
-- Runs of a queue claimed within the window (a start, resume, recovery or wake-up each)
SELECT count(*) FROM durable_run
WHERE queue = %(queue)s AND claimed_at > now() - make_interval(secs => %(window)s)
"""


def runs_ahead(run_id: str) -> int:
    """Due ENQUEUED runs of its queue that claims take before `run_id`."""
    return execute(RUNS_AHEAD, {"run_id": run_id})[0][0]


def starts_per_minute(queue: str, window_seconds: float = 300.0) -> float:
    """How many runs of `queue` were claimed per minute over the last `window_seconds`."""
    (count,) = execute(QUEUE_STARTS, {"queue": queue, "window": window_seconds})[0]
    return count * 60.0 / window_seconds
