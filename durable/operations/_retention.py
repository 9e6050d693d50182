"""Deleting finished runs older than a cutoff, in small batches so no lock is held long."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta

from django.db import connection, transaction

from durable.core import _clock as clock
from durable.core.conf import settings

logger = logging.getLogger("durable")


# A run is prunable when it finished before the cutoff and its parent (if any) is prunable
# too: a parent that still runs, or that is kept and may be resumed, replays
# `child.result()` and needs its children.
PRUNABLE = """
    r.status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'DEAD') AND r.finished_at < %(cutoff)s
    AND NOT EXISTS (
        SELECT 1 FROM durable_run p WHERE p.id = r.parent_id
          AND NOT (p.status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'DEAD')
                   AND p.finished_at < %(cutoff)s))
"""

# Deletes the runs of a `doomed (id)` CTE with everything recorded for them; their
# surviving children and forks lose the link (shared by prune and `durable.operations._deletion`)
DELETE_DOOMED = """
steps AS (
    DELETE FROM durable_step WHERE run_id IN (SELECT id FROM doomed)
), attempts AS (
    DELETE FROM durable_attempt WHERE run_id IN (SELECT id FROM doomed)
), messages AS (
    DELETE FROM durable_message WHERE run_id IN (SELECT id FROM doomed)
), events AS (
    DELETE FROM durable_event WHERE run_id IN (SELECT id FROM doomed)
), step_events AS (
    DELETE FROM durable_stepevent WHERE run_id IN (SELECT id FROM doomed)
), streams AS (
    DELETE FROM durable_streamentry WHERE run_id IN (SELECT id FROM doomed)
), recoveries AS (
    DELETE FROM durable_recovery WHERE run_id IN (SELECT id FROM doomed)
), orphaned_children AS (
    UPDATE durable_run SET parent_id = NULL
    WHERE parent_id IN (SELECT id FROM doomed) AND id NOT IN (SELECT id FROM doomed)
), orphaned_forks AS (
    UPDATE durable_run SET forked_from_id = NULL
    WHERE forked_from_id IN (SELECT id FROM doomed) AND id NOT IN (SELECT id FROM doomed)
)
DELETE FROM durable_run WHERE id IN (SELECT id FROM doomed)
RETURNING id
"""

PRUNE_BATCH = f"""
-- prune_batch --
-- Delete one batch of prunable runs (oldest first) with everything recorded for them
WITH doomed AS (
    SELECT r.id FROM durable_run r
    WHERE {PRUNABLE}
    ORDER BY r.finished_at
    LIMIT %(batch_size)s
    FOR UPDATE OF r SKIP LOCKED
), {DELETE_DOOMED}"""

COUNT_PRUNABLE = f"""
-- count_prunable --
SELECT count(*) FROM durable_run r WHERE {PRUNABLE}
"""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """'30d', '12h', '90m', '3600s', '2w' -> timedelta."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"invalid age {text!r}; use a number and a unit, e.g. 30d, 12h or 90m")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def prune(
    older_than: timedelta,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Delete finished runs whose end is older than `older_than`; returns how many."""
    cutoff = clock.now() - older_than
    with connection.cursor() as cursor:
        cursor.execute(COUNT_PRUNABLE, {"cutoff": cutoff})
        total = cursor.fetchone()[0]
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(PRUNE_BATCH, {"cutoff": cutoff, "batch_size": batch_size})
            batch = len(cursor.fetchall())
        deleted += batch
        if progress is not None and batch:
            progress(deleted, max(total, deleted))
        if batch < batch_size:
            return deleted


def prune_expired() -> int:
    """With DURABLE_RETENTION set (e.g. "30d"), delete the finished runs older than that."""
    if not settings.DURABLE_RETENTION:
        return 0
    deleted = prune(parse_age(settings.DURABLE_RETENTION))
    if deleted:
        logger.info("pruned %d finished run(s) older than %s", deleted, settings.DURABLE_RETENTION)
    return deleted
