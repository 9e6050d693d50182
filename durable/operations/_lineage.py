"""Run trees: a cancel takes a run's descendants with it, and a resume brings them back.

Trees are walked one level at a time, each level locked (in id order) before its children
are read. A child is created in a transaction that holds a lock on its parent's row (the
foreign key check, then the checkpoint's share lock), so once a parent is locked every
child it will ever have is either committed, and seen by the next level's statement, or
not yet created, and then refused because its parent is no longer running. Locking in id
order within a level keeps two bulk operations over the same runs from deadlocking.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import psycopg
from django.db import OperationalError, transaction

from durable.core import store
from durable.core.store import execute
from durable.core.store._durations import ACTIVE_MS_SQL

T = TypeVar("T")
DEADLOCK_ATTEMPTS = 3

LOCK_RUNS = """
-- lock_runs --
-- Lock runs in a stable order (by id) so concurrent bulk operations wait instead of deadlock
SELECT id, status, executor_id FROM durable_run
WHERE id = ANY(%(run_ids)s) ORDER BY id FOR UPDATE
"""

LOCK_CHILDREN = """
-- lock_children --
-- The next level of the trees under `run_ids`, locked by id; with `cascaded_only`, only
-- children a parent's cancel took down (the ones a resume brings back)
SELECT id, status, executor_id FROM durable_run
WHERE parent_id = ANY(%(run_ids)s)
  AND (NOT %(cascaded_only)s OR (status = 'CANCELLED' AND cancelled_with_parent))
ORDER BY id FOR UPDATE
"""

CANCEL_RUNS = (
    """
-- cancel_runs --
-- Cancel the active runs among `run_ids`; those in `cascaded` go with a cancelled parent
-- (a timeout's run counts as one when its deadline came from its parent's)
UPDATE durable_run r
SET status = 'CANCELLED', cancel_reason = %(reason)s, finished_at = now(),
    lease_expires_at = NULL, updated_at = now(),
    cancelled_with_parent = r.id = ANY(%(cascaded)s) OR EXISTS (
        SELECT 1 FROM durable_run p
        WHERE %(inherited_deadline)s AND p.id = r.parent_id AND p.deadline_at <= r.deadline_at),
    active_ms = """
    + ACTIVE_MS_SQL.format(run="r")
    + """,
    steps_done = (SELECT count(*) FROM durable_step s WHERE s.run_id = r.id)
WHERE r.id = ANY(%(run_ids)s) AND r.status IN ('ENQUEUED', 'RUNNING')
RETURNING r.id
"""
)


def retrying_deadlocks(work: Callable[..., T]) -> Callable[..., T]:
    """Run `work` in a savepoint and again if PostgreSQL broke a deadlock by aborting it.

    Id order holds within a level; across levels (a parent locked before its child) two
    operations can only cross when a caller named a child with an id that sorts before its
    parent's. Rolling back to the savepoint releases this attempt's locks, so the other
    operation finishes and this one judges the runs again.
    """

    @functools.wraps(work)
    def run(*args, **kwargs) -> T:
        for _ in range(DEADLOCK_ATTEMPTS - 1):
            try:
                with transaction.atomic():
                    return work(*args, **kwargs)
            except OperationalError as exc:
                if not isinstance(exc.__cause__, psycopg.errors.DeadlockDetected):
                    raise
        with transaction.atomic():
            return work(*args, **kwargs)

    return run


def lock_runs(run_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """run id -> (status, executor id) of the existing runs, locked for this transaction."""
    rows = execute(LOCK_RUNS, {"run_ids": list(run_ids)})
    return {run_id: (status, executor_id) for run_id, status, executor_id in rows}


def lock_descendants(run_ids: list[str], *, cascaded_only: bool = False) -> list[str]:
    """Every descendant of `run_ids`, locked level by level (see the module docstring)."""
    found: list[str] = []
    level = list(run_ids)
    seen = set(level)
    while level:
        params = {"run_ids": level, "cascaded_only": cascaded_only}
        level = [row[0] for row in execute(LOCK_CHILDREN, params) if row[0] not in seen]
        seen.update(level)
        found.extend(level)
    return found


def cancel_trees(run_ids: list[str], reason: str, *, children: bool = True) -> list[str]:
    """Cancel the active runs among `run_ids` (locked by the caller) and, unless told not
    to, their descendants."""
    with transaction.atomic():
        lock_runs(run_ids)
        descendants = lock_descendants(run_ids) if children else []
        params = {"run_ids": list(run_ids) + descendants, "cascaded": descendants,
                  "reason": reason, "inherited_deadline": False}  # fmt: skip
        cancelled = [row[0] for row in execute(CANCEL_RUNS, params)]
        store.notify_cancelled(cancelled)  # their executors stop before the next step
        return cancelled


def cancel_timed_out(run_id: str, executor_id: str, reason: str) -> bool:
    """Cancel a run whose deadline passed, with its tree, only while `executor_id` owns it:
    an owner that paused past its lease must not cancel a run another executor took over."""
    with transaction.atomic():
        status, owner = lock_runs([run_id]).get(run_id, ("", None))
        if status != "RUNNING" or owner != executor_id:
            return False
        descendants = lock_descendants([run_id])
        params = {"run_ids": [run_id, *descendants], "cascaded": descendants,
                  "reason": reason, "inherited_deadline": True}  # fmt: skip
        store.notify_cancelled([row[0] for row in execute(CANCEL_RUNS, params)])
        return True
