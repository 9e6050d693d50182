"""Durable queues: concurrency, per-worker concurrency, rate limits and priority.

    emails = durable.Queue("emails", concurrency=10, worker_concurrency=2,
                           rate_limit=(50, 60), priority=True)

    @durable.workflow(queue="emails")
    def send_digest(user_id: int) -> None: ...

Limits are enforced in PostgreSQL at claim time, under a per-queue advisory lock, so they
hold across every worker and executor. Invariant: a run of a limited queue becomes RUNNING
only in a transaction that holds its queue's lock and has counted, after taking the lock,
fewer RUNNING runs than `concurrency` (and than `worker_concurrency` for this executor) and
fewer starts than `rate_limit[0]` in the last `rate_limit[1]` seconds (every claim counts:
a first start, a resume, a recovery, a wake-up from a sleep). A refused run stays ENQUEUED;
the worker that frees a slot, or the sweeper, wakes it (`durable.sweeper`).
Runs of queues no process declared (the "default" queue) take the one-statement claim.

Declare queues in a module every process imports (an app's workflows.py or
DURABLE_MODULES): a process that does not know a queue claims its runs without limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from durable import db, store
from durable.conf import settings
from durable.store import ClaimedRun

UNLIMITED = 2**31 - 1

_queues: dict[str, Queue] = {}


@dataclass(frozen=True)
class Queue:
    """A named line of runs with limits that hold across all workers."""

    name: str
    concurrency: int | None = None
    worker_concurrency: int | None = None
    rate_limit: tuple[int, float] | None = None
    priority: bool = False

    def __post_init__(self) -> None:
        for field in ("concurrency", "worker_concurrency"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"Queue {self.name!r}: {field} must be a positive int or None")
        if self.rate_limit is not None:
            count, seconds = self.rate_limit
            if int(count) < 1 or float(seconds) <= 0:
                raise ValueError(
                    f"Queue {self.name!r}: rate_limit is (runs, seconds), e.g. (50, 60)"
                )
        register(self)

    def __str__(self) -> str:
        return self.name

    @property
    def limited(self) -> bool:
        return (
            self.concurrency is not None
            or self.worker_concurrency is not None
            or self.rate_limit is not None
        )

    def claim_params(self) -> dict[str, Any]:
        count, seconds = self.rate_limit or (UNLIMITED, 0.0)
        return {
            "queue": self.name,
            "concurrency": self.concurrency or UNLIMITED,
            "worker_concurrency": self.worker_concurrency or UNLIMITED,
            "rate": count,
            "period": float(seconds),
            "by_priority": self.priority,
        }


def register(queue: Queue) -> None:
    existing = _queues.get(queue.name)
    if existing is not None and existing != queue:
        raise ValueError(
            f"queue {queue.name!r} is declared twice with different limits "
            f"({existing} vs {queue}); declare it once and import it"
        )
    _queues[queue.name] = queue


def get_queue(name: str) -> Queue | None:
    return _queues.get(name)


def declared() -> list[Queue]:
    return list(_queues.values())


def special_queue_names() -> list[str]:
    """Queues whose runs cannot take the plain claim: limited or ordered by priority."""
    return [queue.name for queue in _queues.values() if queue.limited or queue.priority]


def queue_name(queue: Queue | str | None) -> str | None:
    return queue.name if isinstance(queue, Queue) else queue


RUN_QUEUE = """
-- run_queue --
-- The queue of an enqueued run (only asked when the plain claim found nothing)
SELECT queue FROM durable_run WHERE id = %(run_id)s AND status = 'ENQUEUED'
"""

LOCK_QUEUE = """
-- lock_queue --
-- Serialize claims in one queue until commit, so limits are counted after the last claim
SELECT pg_advisory_xact_lock(hashtextextended('durable.queue:' || %(queue)s, 0))
"""

CLAIM_IN_QUEUE = (
    """
-- claim_in_queue --
-- Under the queue's lock: take the named run (or the queue's head when run_id is NULL) if
-- concurrency, this executor's concurrency and the rate limit all allow one more start
WITH running AS (
    SELECT count(*) AS total, count(*) FILTER (WHERE executor_id = %(executor_id)s) AS mine
    FROM durable_run WHERE queue = %(queue)s AND status = 'RUNNING'
), recent AS (
    SELECT count(*) AS started FROM durable_run
    WHERE queue = %(queue)s
      AND claimed_at > statement_timestamp() - make_interval(secs => %(period)s)
), candidate AS (
    SELECT r.id FROM durable_run r, running, recent
    WHERE r.queue = %(queue)s AND r.status = 'ENQUEUED'
      AND r.available_at <= statement_timestamp()
      AND (r.workflow = ANY(%(workflows)s) OR r.workflow || '@' || r.version = ANY(%(workflows)s))
      AND (%(run_id)s::text IS NULL OR r.id = %(run_id)s)
      AND running.total < %(concurrency)s AND running.mine < %(worker_concurrency)s
      AND recent.started < %(rate)s
    ORDER BY CASE WHEN %(by_priority)s THEN r.priority ELSE 0 END DESC, r.available_at, r.id
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
    RETURNING r.id, r.workflow, r.version, r.input, r.deadline_at, r.attempts_before_resume
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
) -> tuple[ClaimedRun | None, Queue | None]:
    """Claim `run_id`, within its queue's limits; with `head`, a limited or priority
    queue gives its best due run instead (the message is a token for the queue).

    Returns the claimed run (None if refused or taken) and its queue if it is declared.
    """
    lease = settings.DURABLE_LEASE_SECONDS
    special = special_queue_names()
    claimed = store.claim_run(run_id, executor_id, lease, workflows, exclude_queues=special)
    if claimed is not None or not special:
        return claimed, None
    rows = _execute(RUN_QUEUE, {"run_id": run_id})
    queue = get_queue(rows[0][0]) if rows else None
    if queue is None or not (queue.limited or queue.priority):
        return None, queue
    wanted = None if head else run_id
    return claim_in_queue(queue, executor_id, workflows, run_id=wanted), queue


def claim_in_queue(
    queue: Queue, executor_id: str, workflows: list[str], *, run_id: str | None = None
) -> ClaimedRun | None:
    """One claim under the queue's lock: BEGIN, lock, count and claim, COMMIT."""
    params = {
        **queue.claim_params(),
        "executor_id": executor_id,
        "workflows": workflows,
        "run_id": run_id,
        "lease": settings.DURABLE_LEASE_SECONDS,
    }
    rows = db.retrying(lambda: _claim_under_lock(queue, params), what=CLAIM_IN_QUEUE)
    if not rows:
        return None
    return store.claimed_from_row(rows[0][0], rows[0][1:])


def _claim_under_lock(queue: Queue, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK_QUEUE, {"queue": queue.name})
        cursor.execute(CLAIM_IN_QUEUE, params)
        return cursor.fetchall()


def free_slots(queue: Queue, executor_id: str | None = None) -> int:
    """Runs the queue could start right now (a hint for waking runs; claims re-check);
    with `executor_id`, runs that executor could start (its worker_concurrency too)."""
    count, seconds = queue.rate_limit or (UNLIMITED, 0.0)
    params = {"queue": queue.name, "period": float(seconds), "executor_id": executor_id}
    running, mine, started = _execute(QUEUE_LOAD, params)[0]
    slots = min((queue.concurrency or UNLIMITED) - running, count - started)
    if executor_id is not None:
        slots = min(slots, (queue.worker_concurrency or UNLIMITED) - mine)
    return max(0, slots)


def worker_room(queue: Queue, lease: float) -> int:
    """Starts a worker_concurrency queue has room for across the live executors (those
    heard from within `lease` seconds): each one's limit minus its running runs."""
    params = {"queue": queue.name, "per_worker": queue.worker_concurrency, "lease": lease}
    return int(_execute(WORKER_ROOM, params)[0][0])


def queue_heads(queue: Queue, workflows: list[str], limit: int) -> list[str]:
    """Up to `limit` ids of the queue's best due runs (tokens: a head claim takes the best)."""
    if limit <= 0:
        return []
    params = {"queue": queue.name, "workflows": workflows, "limit": limit,
              "by_priority": queue.priority}  # fmt: skip
    return [row[0] for row in _execute(QUEUE_HEADS, params)]


def _execute(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return store.execute(sql, params)
