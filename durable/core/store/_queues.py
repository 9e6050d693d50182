"""SQL of durable queues: claims under a queue's lock within its stored limits, and the
counts that wake runs (load, room per worker, the queue's head)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from durable.core.store import _db as db
from durable.core.store._execute import Rows, execute
from durable.core.store._runs import CLAIMED_HISTORY, QUEUE_CLAIMS_APART, STAMP_VERSION

RUN_QUEUE = (
    """
-- run_queue --
-- The stored limits of an enqueued run's queue, if it has any (only asked when the plain
-- claim found nothing: the run was taken, or its queue's claims go through its lock)
SELECT q.name, q.concurrency, q.worker_concurrency, q.rate_count, q.rate_seconds, q.priority
FROM durable_run r JOIN durable_queue q ON q.name = r.queue
WHERE r.id = %(run_id)s AND r.status = 'ENQUEUED' AND """
    + QUEUE_CLAIMS_APART
)

LOCK_QUEUE = """
-- lock_queue --
-- Serialize claims in one queue until commit, so limits are counted after the last claim
-- (the count must be a later statement: one statement counts on the snapshot it began with)
SELECT pg_advisory_xact_lock(hashtextextended('durable.queue:' || %(queue)s, 0))
"""

CLAIM_IN_QUEUE = (
    """
-- claim_in_queue --
-- Under the queue's lock: take the named run (or the queue's head when run_id is NULL) if
-- the queue's stored concurrency, this executor's concurrency and the rate limit all allow
-- one more start (limits read from durable_queue here, so an operator's change applies to
-- the next claim, in every process, whether its code declares the queue or not)
WITH limits AS (
    SELECT COALESCE(concurrency, 2147483647) AS concurrency,
           COALESCE(worker_concurrency, 2147483647) AS worker_concurrency,
           COALESCE(rate_count, 2147483647) AS rate, COALESCE(rate_seconds, 0) AS period,
           priority AS by_priority
    FROM durable_queue WHERE name = %(queue)s
), running AS (
    SELECT count(*) AS total, count(*) FILTER (WHERE executor_id = %(executor_id)s) AS mine
    FROM durable_run WHERE queue = %(queue)s AND status = 'RUNNING'
), recent AS (
    SELECT count(*) AS started FROM durable_run
    WHERE queue = %(queue)s
      AND claimed_at > statement_timestamp() - make_interval(secs => (SELECT period FROM limits))
), candidate AS MATERIALIZED (  -- one run: the LIMIT is taken once, however it is joined
    SELECT r.id FROM durable_run r, running, recent, limits
    WHERE r.queue = %(queue)s AND r.status = 'ENQUEUED' AND r.held_at IS NULL
      AND r.available_at <= statement_timestamp()
      AND (r.workflow = ANY(%(workflows)s) OR r.workflow || '@' || r.version = ANY(%(workflows)s))
      AND (%(run_id)s::text IS NULL OR r.id = %(run_id)s)
      AND running.total < limits.concurrency AND running.mine < limits.worker_concurrency
      AND recent.started < limits.rate
    ORDER BY CASE WHEN limits.by_priority THEN r.priority ELSE 0 END DESC, r.available_at, r.id
    LIMIT 1
    -- not SKIP LOCKED: claims in this queue are serialized by its lock already, and the
    -- head must not be skipped while another statement holds it for a moment (a plain
    -- claim_run locks the row it is asked about), or runs would start out of order
    FOR UPDATE OF r
), claimed AS (
    UPDATE durable_run r
    SET status = 'RUNNING', executor_id = %(executor_id)s,
        lease_expires_at = statement_timestamp() + make_interval(secs => %(lease)s),
        started_at = COALESCE(r.started_at, statement_timestamp()),
        claimed_at = statement_timestamp(), updated_at = statement_timestamp(),
        version = """
    + STAMP_VERSION.replace("run.", "r.")
    + """
    FROM candidate WHERE r.id = candidate.id
    RETURNING r.id, r.workflow, r.version, r.input, r.deadline_at, r.attempts_before_resume,
              r.lost_attempts, r.imported, r.created_at
)
SELECT c.id, c.workflow, c.version, c.input, c.deadline_at,"""
    + CLAIMED_HISTORY
    + """FROM claimed c
"""
)

QUEUE_LOAD = """
-- queue_load --
-- How many runs of a queue run now (in all, and on one executor), and how many started
-- inside its rate window
SELECT count(*) FILTER (WHERE status = 'RUNNING'),
       count(*) FILTER (WHERE status = 'RUNNING' AND executor_id = %(executor_id)s),
       count(*) FILTER (WHERE claimed_at > now() - make_interval(secs => %(period)s))
FROM durable_run WHERE queue = %(queue)s
  AND (status = 'RUNNING' OR claimed_at > now() - make_interval(secs => %(period)s))
"""

WORKER_ROOM = """
-- worker_room --
-- Room left under worker_concurrency on every live executor of a kind, summed (those that
-- take the messages being counted for: a thread executor polls, a Celery sweep's messages
-- would only wait for Celery workers)
SELECT COALESCE(sum(GREATEST(%(per_worker)s - (
           SELECT count(*) FROM durable_run r
           WHERE r.queue = %(queue)s AND r.status = 'RUNNING' AND r.executor_id = e.id), 0)), 0)
FROM durable_executor e
WHERE e.last_seen_at > now() - make_interval(secs => %(lease)s) AND e.kind = %(kind)s
"""

QUEUE_HEADS = """
-- queue_heads --
-- The best due runs of a queue that an executor can run, in the order claims take them
SELECT id FROM durable_run
WHERE queue = %(queue)s AND status = 'ENQUEUED' AND available_at <= now() AND held_at IS NULL
  AND (workflow = ANY(%(workflows)s) OR workflow || '@' || version = ANY(%(workflows)s))
ORDER BY CASE WHEN %(by_priority)s THEN priority ELSE 0 END DESC, available_at, id
LIMIT %(limit)s
"""


def run_queue(run_id: str) -> tuple[Any, ...] | None:
    """(name, concurrency, worker_concurrency, rate_count, rate_seconds, priority) of an
    enqueued run's queue when its claims go through the queue's lock."""
    rows = execute(RUN_QUEUE, {"run_id": run_id})
    return rows[0] if rows else None


def claim_in_queue(
    queue: str, executor_id: str, workflows: list[str], run_id: str | None, lease: float
) -> Rows:
    """BEGIN, lock the queue, count and claim, COMMIT; a lost connection retries it whole."""
    params = {"queue": queue, "executor_id": executor_id, "workflows": workflows,
              "run_id": run_id, "lease": lease}  # fmt: skip

    def under_lock() -> Rows:
        with transaction.atomic():
            execute(LOCK_QUEUE, {"queue": queue})
            return execute(CLAIM_IN_QUEUE, params)

    return db.retrying(under_lock, what=CLAIM_IN_QUEUE)


def queue_load(queue: str, period: float, executor_id: str | None) -> tuple[int, int, int]:
    """(running, running on executor_id, started within `period` seconds) in `queue`."""
    params = {"queue": queue, "period": period, "executor_id": executor_id}
    running, mine, started = execute(QUEUE_LOAD, params)[0]
    return running, mine, started


def worker_room(queue: str, per_worker: int | None, lease: float, kind: str) -> int:
    params = {"queue": queue, "per_worker": per_worker, "lease": lease, "kind": kind}
    return int(execute(WORKER_ROOM, params)[0][0])


def queue_heads(queue: str, workflows: list[str], limit: int, by_priority: bool) -> list[str]:
    params = {"queue": queue, "workflows": workflows, "limit": limit, "by_priority": by_priority}
    return [row[0] for row in execute(QUEUE_HEADS, params)]


WAKE_QUEUE_HEADS = """
-- wake_queue_heads --
-- Up to `limit` due runs of a limited queue with free slots, best first, not woken lately.
-- MATERIALIZED: the LIMIT is taken once; joined as a subquery, a nested loop may run it again
-- for each row of its other side, each time past the rows already marked (10 woken for 2)
WITH head AS MATERIALIZED (
    SELECT id FROM durable_run
    WHERE queue = %(queue)s AND status = 'ENQUEUED' AND available_at <= now() AND held_at IS NULL
      AND updated_at < now() - make_interval(secs => %(quiet)s)
    ORDER BY CASE WHEN %(by_priority)s THEN priority ELSE 0 END DESC, available_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE durable_run r SET updated_at = now()
FROM head
WHERE r.id = head.id
RETURNING r.id
"""


def mark_queue_heads(queue: str, quiet: float, by_priority: bool, limit: int) -> list[str]:
    """Mark and return up to `limit` due runs of a limited queue to wake (best first)."""
    params = {"queue": queue, "quiet": quiet, "by_priority": by_priority, "limit": limit}
    return [row[0] for row in execute(WAKE_QUEUE_HEADS, params)]


QUEUE_HOLD = """
-- queue_hold --
-- A queue's RUNNING runs, its claims inside the rate window and the oldest of those (as
-- claim_in_queue counts them)
SELECT count(*) FILTER (WHERE status = 'RUNNING'),
       count(*) FILTER (WHERE claimed_at > now() - make_interval(secs => %(period)s)),
       min(claimed_at) FILTER (WHERE claimed_at > now() - make_interval(secs => %(period)s))
FROM durable_run WHERE queue = %(queue)s
  AND (status = 'RUNNING' OR claimed_at > now() - make_interval(secs => %(period)s))
"""


def queue_hold(queue: str, period: float) -> tuple[int, int, datetime | None]:
    """(running, claims within `period` seconds, the oldest of those claims) of `queue`."""
    running, started, first = execute(QUEUE_HOLD, {"queue": queue, "period": period})[0]
    return running, started, first


RUNS_AHEAD = (
    """
-- runs_ahead --
-- How many due ENQUEUED runs of a run's queue a claim takes before it, in claim order
-- (run_due_idx for ENQUEUED runs by priority and due time)
WITH me AS (
    SELECT r.id, r.queue, r.available_at,
           COALESCE("""
    + QUEUE_CLAIMS_APART
    + """ AND NOT q.priority, false) AS flat, r.priority
    FROM durable_run r LEFT JOIN durable_queue q ON q.name = r.queue
    WHERE r.id = %(run_id)s
)
SELECT count(*) FROM durable_run o, me
WHERE o.status = 'ENQUEUED' AND o.available_at <= now() AND o.queue = me.queue
  AND o.held_at IS NULL  -- a held run is never claimed: it is not ahead
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


def queue_starts(queue: str, window_seconds: float) -> int:
    """Runs of `queue` claimed within the last `window_seconds`."""
    return execute(QUEUE_STARTS, {"queue": queue, "window": window_seconds})[0][0]
