"""Deleting finished runs older than a cutoff, in small batches so no lock is held long."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from durable.core import _clock as clock
from durable.core._validation import parse_age
from durable.core.conf import settings
from durable.core.store import _trees as store_trees
from durable.operations import _partitioning as partitioning

logger = logging.getLogger("durable")


def prune(
    older_than: timedelta,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Delete finished runs whose end is older than `older_than`; returns how many.

    First the history partitions whose every run may go are dropped whole, with their runs
    (no row by row delete of checkpoints, no bloat); the rest goes in batches of runs.
    """
    cutoff = clock.now() - older_than
    deleted = sum(dropped.runs for dropped in partitioning.drop_expired(cutoff, batch_size))
    total = store_trees.count_prunable(cutoff) + deleted
    while True:
        # one statement per batch, retried in place if its connection drops; a batch whose
        # commit was lost with the reply is not deleted again (its runs are gone)
        batch = store_trees.prune_batch(cutoff, batch_size)
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
