"""Durable queues: concurrency, per-worker concurrency, rate limits and priority.

    emails = durable.Queue("emails", concurrency=10, worker_concurrency=2,
                           rate_limit=(50, 60), priority=True)

    @durable.workflow(queue="emails")
    def send_digest(user_id: int) -> None: ...

A declaration is stored in PostgreSQL (the durable_queue table, `durable.queues._limits`)
when an executor starts and before a process first starts a run in the queue; operators
override it at run time (`set_limits`, `manage.py durable queues`, the dashboard). Claims
read the limits from that row, so they hold in every process, also one that never imported
the declaration. Invariant: a run of a limited queue becomes RUNNING only in a transaction
that holds its queue's lock and has counted, after taking the lock, fewer RUNNING runs than
the stored `concurrency` (and than `worker_concurrency` for this executor) and fewer starts
than `rate_limit[0]` in the last `rate_limit[1]` seconds (every claim counts: a first start,
a resume, a recovery, a wake-up from a sleep). A refused run stays ENQUEUED; the worker that
frees a slot, or the sweeper, wakes it (`durable.executors._sweeper`). Runs of queues with no stored
limits (the "default" queue) take the one-statement claim.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from durable.core import _validation as validation
from durable.core import store
from durable.core.conf import settings
from durable.core.store import ClaimedRun
from durable.core.store import _db as db
from durable.queues import _limits as queue_limits
from durable.queues._holds import Hold, hold
from durable.queues._limits import (
    UNCHANGED,
    Limits,
    all_queues,
    limits_of,
    reset_limits,
    set_limits,
)
from durable.queues._limits import stored as stored_limits
from durable.queues._position import runs_ahead, starts_per_minute

__all__ = ["UNCHANGED", "Hold", "Limits", "Queue", "all_queues", "hold", "limits_of",
           "reset_limits", "runs_ahead", "set_limits", "starts_per_minute",
           "stored_limits"]  # fmt: skip

UNLIMITED = 2**31 - 1

_queues: dict[str, Queue] = {}
_stored: set[str] = set()  # declarations this process has written to durable_queue
_stored_lock = threading.Lock()


@dataclass(frozen=True)
class Queue(Limits):
    """A named line of runs with limits that hold across all workers (stored in PostgreSQL)."""

    def __post_init__(self) -> None:
        validation.text("name", self.name, optional=False)
        queue_limits.check(self.name, concurrency=self.concurrency,
                           worker_concurrency=self.worker_concurrency,
                           rate_limit=self.rate_limit, priority=self.priority)  # fmt: skip
        caller = sys._getframe(2).f_globals.get("__name__", "")  # the declaring module
        object.__setattr__(self, "declared_in", caller)
        register(self)

    def __str__(self) -> str:
        return self.name

    def limits(self) -> Limits:
        return Limits(self.name, self.concurrency, self.worker_concurrency,
                      self.rate_limit, self.priority)  # fmt: skip


def register(queue: Queue) -> None:
    existing = _queues.get(queue.name)
    if existing is not None and existing != queue:
        raise ValueError(
            f"queue {queue.name!r} is declared twice with different limits "
            f"({existing} vs {queue}); declare it once and import it"
        )
    _queues[queue.name] = queue


def get_queue(name: str) -> Queue | None:
    """The queue as this process's code declares it (claims use the stored limits)."""
    return _queues.get(name)


def declared() -> list[Queue]:
    return list(_queues.values())


def store_declared() -> None:
    """Write every queue this process declares to durable_queue (an executor starting)."""
    for name in list(_queues):
        _store(name)


def ensure_stored(name: str | None) -> None:
    """Before a run enters a queue this process declares, make sure its row exists, so no
    worker can claim the run without the limits (once per process and queue)."""
    if name is not None and name in _queues and name not in _stored:
        _store(name)


def forget_stored() -> None:
    """Forget which declarations were written (tests: the tables were flushed)."""
    with _stored_lock:
        _stored.clear()


def _store(name: str) -> None:
    queue = _queues[name]
    queue_limits.declare(queue.limits(), getattr(queue, "declared_in", ""))
    transaction.on_commit(lambda: _mark_stored(name))  # not if the caller rolls back


def _mark_stored(name: str) -> None:
    with _stored_lock:
        _stored.add(name)


def special() -> list[Limits]:
    """The queues whose runs take the queue claim, as stored (limited or by priority)."""
    return queue_limits.special()


def queue_name(queue: Queue | str | None) -> str | None:
    return queue.name if isinstance(queue, Queue) else queue


RUN_QUEUE = (
    """
-- run_queue --
-- The stored limits of an enqueued run's queue, if it has any (only asked when the plain
-- claim found nothing: the run was taken, or its queue's claims go through its lock)
SELECT q.name, q.concurrency, q.worker_concurrency, q.rate_count, q.rate_seconds, q.priority
FROM durable_run r JOIN durable_queue q ON q.name = r.queue
WHERE r.id = %(run_id)s AND r.status = 'ENQUEUED' AND """
    + store.QUEUE_CLAIMS_APART
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
), candidate AS (
    SELECT r.id FROM durable_run r, running, recent, limits
    WHERE r.queue = %(queue)s AND r.status = 'ENQUEUED'
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
    + store.STAMP_VERSION.replace("run.", "r.")
    + """
    FROM candidate WHERE r.id = candidate.id
    RETURNING r.id, r.workflow, r.version, r.input, r.deadline_at, r.attempts_before_resume,
              r.lost_attempts
)
SELECT c.id, c.workflow, c.version, c.input, c.deadline_at,"""
    + store.CLAIMED_HISTORY
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
-- Room left under worker_concurrency on every live executor, summed
SELECT COALESCE(sum(GREATEST(%(per_worker)s - (
           SELECT count(*) FROM durable_run r
           WHERE r.queue = %(queue)s AND r.status = 'RUNNING' AND r.executor_id = e.id), 0)), 0)
FROM durable_executor e
WHERE e.last_seen_at > now() - make_interval(secs => %(lease)s)
"""

QUEUE_HEADS = """
-- queue_heads --
-- The best due runs of a queue that an executor can run, in the order claims take them
SELECT id FROM durable_run
WHERE queue = %(queue)s AND status = 'ENQUEUED' AND available_at <= now()
  AND (workflow = ANY(%(workflows)s) OR workflow || '@' || version = ANY(%(workflows)s))
ORDER BY CASE WHEN %(by_priority)s THEN priority ELSE 0 END DESC, available_at, id
LIMIT %(limit)s
"""


def claim(
    run_id: str, executor_id: str, workflows: list[str], *, head: bool = False
) -> tuple[ClaimedRun | None, Limits | None]:
    """Claim `run_id`, within its queue's stored limits; with `head`, a limited or priority
    queue gives its best due run instead (the message is a token for the queue).

    Returns the claimed run (None if refused or taken) and, when the claim went through the
    queue's lock, the queue's limits as stored.
    """
    lease = settings.DURABLE_LEASE_SECONDS
    claimed = store.claim_run(run_id, executor_id, lease, workflows)
    if claimed is not None:
        return claimed, None
    rows = _execute(RUN_QUEUE, {"run_id": run_id})
    if not rows:
        return None, None
    line = _limits_from_row(rows[0])
    wanted = None if head else run_id
    return claim_in_queue(line, executor_id, workflows, run_id=wanted), line


def _limits_from_row(row: tuple[Any, ...]) -> Limits:
    name, concurrency, worker_concurrency, rate_count, rate_seconds, priority = row
    rate = (rate_count, rate_seconds) if rate_count is not None else None
    return Limits(name, concurrency, worker_concurrency, rate, priority)


def claim_in_queue(
    queue: Limits, executor_id: str, workflows: list[str], *, run_id: str | None = None
) -> ClaimedRun | None:
    """One claim under the queue's lock: BEGIN, lock, count and claim, COMMIT (the limits
    come from durable_queue inside the claim statement, not from `queue`)."""
    params = {
        "queue": queue.name,
        "executor_id": executor_id,
        "workflows": workflows,
        "run_id": run_id,
        "lease": settings.DURABLE_LEASE_SECONDS,
    }
    rows = db.retrying(lambda: _claim_under_lock(queue.name, params), what=CLAIM_IN_QUEUE)
    if not rows:
        return None
    return store.claimed_from_row(rows[0][0], rows[0][1:])


def _claim_under_lock(name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK_QUEUE, {"queue": name})
        cursor.execute(CLAIM_IN_QUEUE, params)
        return cursor.fetchall()


def free_slots(queue: Limits, executor_id: str | None = None) -> int:
    """Runs the queue could start right now (a hint for waking runs; claims re-check);
    with `executor_id`, runs that executor could start (its worker_concurrency too)."""
    count, seconds = queue.rate_limit or (UNLIMITED, 0.0)
    params = {"queue": queue.name, "period": float(seconds), "executor_id": executor_id}
    running, mine, started = _execute(QUEUE_LOAD, params)[0]
    slots = min((queue.concurrency or UNLIMITED) - running, count - started)
    if executor_id is not None:
        slots = min(slots, (queue.worker_concurrency or UNLIMITED) - mine)
    return max(0, slots)


def worker_room(queue: Limits, lease: float) -> int:
    """Starts a worker_concurrency queue has room for across the live executors (those
    heard from within `lease` seconds): each one's limit minus its running runs."""
    params = {"queue": queue.name, "per_worker": queue.worker_concurrency, "lease": lease}
    return int(_execute(WORKER_ROOM, params)[0][0])


def queue_heads(queue: Limits, workflows: list[str], limit: int) -> list[str]:
    """Up to `limit` ids of the queue's best due runs (tokens: a head claim takes the best)."""
    if limit <= 0:
        return []
    params = {"queue": queue.name, "workflows": workflows, "limit": limit,
              "by_priority": queue.priority}  # fmt: skip
    return [row[0] for row in _execute(QUEUE_HEADS, params)]


def _execute(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return store.execute(sql, params)
