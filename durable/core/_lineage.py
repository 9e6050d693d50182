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
from durable.core.store import _trees as store_trees

T = TypeVar("T")
DEADLOCK_ATTEMPTS = 3


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
    rows = store_trees.lock_runs(run_ids)
    return {run_id: (status, executor_id) for run_id, status, executor_id in rows}


def lock_descendants(run_ids: list[str], *, cascaded_only: bool = False) -> list[str]:
    """Every descendant of `run_ids`, locked level by level (see the module docstring)."""
    found: list[str] = []
    level = list(run_ids)
    seen = set(level)
    while level:
        level = [rid for rid in store_trees.lock_children(level, cascaded_only) if rid not in seen]
        seen.update(level)
        found.extend(level)
    return found


def cancel_trees(run_ids: list[str], reason: str, *, children: bool = True) -> list[str]:
    """Cancel the active runs among `run_ids` (locked by the caller) and, unless told not
    to, their descendants."""
    with transaction.atomic():
        lock_runs(run_ids)
        descendants = lock_descendants(run_ids) if children else []
        cancelled = store_trees.cancel_runs(list(run_ids) + descendants, descendants, reason,
                                            inherited_deadline=False)  # fmt: skip
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
        cancelled = store_trees.cancel_runs([run_id, *descendants], descendants, reason,
                                            inherited_deadline=True)  # fmt: skip
        store.notify_cancelled(cancelled)
        return True
