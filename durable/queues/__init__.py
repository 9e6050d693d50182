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

from django.db import transaction

from durable.core import _validation as validation
from durable.core import store
from durable.core.conf import settings
from durable.core.store import ClaimedRun
from durable.core.store import _queues as store_queues
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
    row = store_queues.run_queue(run_id)
    if row is None:
        return None, None
    line = _limits_from_row(row)
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
    lease = settings.DURABLE_LEASE_SECONDS
    rows = store_queues.claim_in_queue(queue.name, executor_id, workflows, run_id, lease)
    if not rows:
        return None
    return store.claimed_from_row(rows[0][0], rows[0][1:])


def free_slots(queue: Limits, executor_id: str | None = None) -> int:
    """Runs the queue could start right now (a hint for waking runs; claims re-check);
    with `executor_id`, runs that executor could start (its worker_concurrency too)."""
    count, seconds = queue.rate_limit or (UNLIMITED, 0.0)
    running, mine, started = store_queues.queue_load(queue.name, float(seconds), executor_id)
    slots = min((queue.concurrency or UNLIMITED) - running, count - started)
    if executor_id is not None:
        slots = min(slots, (queue.worker_concurrency or UNLIMITED) - mine)
    return max(0, slots)


def worker_room(queue: Limits, lease: float, kind: str) -> int:
    """Starts a worker_concurrency queue has room for across the live executors of `kind`
    (those heard from within `lease` seconds; the kind that takes the messages the caller
    sends): each one's limit minus its running runs."""
    return store_queues.worker_room(queue.name, queue.worker_concurrency, lease, kind)


def queue_heads(queue: Limits, workflows: list[str], limit: int) -> list[str]:
    """Up to `limit` ids of the queue's best due runs (tokens: a head claim takes the best)."""
    if limit <= 0:
        return []
    return store_queues.queue_heads(queue.name, workflows, limit, queue.priority)
