"""Keeping the partitioned history (docs/partitioning.md): partitions made ahead by the
executors' hourly duty, and dropped whole by retention once every run in one may go."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import partial

from durable.core import _clock as clock
from durable.core.conf import settings
from durable.core.store import _partitions as store_partitions
from durable.core.store._db import atomic_retrying
from durable.core.store._partitions import Dropped, Partition

logger = logging.getLogger("durable")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Range = tuple[datetime, datetime]


def create_ahead(since: datetime | None = None) -> list[Partition]:
    """Make sure today's partition and DURABLE_PARTITIONS_AHEAD more exist (and those from
    `since`, for a bulk load of past runs), and give rows the default partition caught a
    partition of their own; the partitions made."""
    made = store_partitions.maintaining(lambda: _create_ahead(since), "create_ahead")
    if made:
        logger.info("made %d history partition(s), up to %s", len(made), made[-1].upper)
    return made


def _create_ahead(since: datetime | None) -> list[Partition]:
    width = timedelta(days=settings.DURABLE_PARTITION_DAYS)
    now = clock.now()
    start = _slot_start(min(since or now, now), width)
    ahead = (_slot_start(now, width) - start) // width + settings.DURABLE_PARTITIONS_AHEAD
    wanted = [start + width * k for k in range(ahead + 1)]
    wanted += [_slot_start(day, width) for day in store_partitions.default_row_days()]
    taken: list[tuple[datetime | None, datetime | None]] = [
        (partition.lower, partition.upper) for partition in store_partitions.partitions()
    ]
    ranges: list[Range] = []
    for lower in sorted(set(wanted)):
        for free in _free(lower, lower + width, taken):
            ranges.append(free)
            taken.append(free)
    return store_partitions.create_partitions(ranges)


def drop_expired(cutoff: datetime, batch_size: int = 1000) -> list[Dropped]:
    """Drop, oldest first, the partitions whose every run is prunable at `cutoff` (with
    those runs); a partition holding a run that must stay is kept whole, and reported.

    The run rows go first, `batch_size` at a time, each batch its own transaction (a day of
    a million runs is not one long delete that a lost lock for the drop rolls back); the
    drop then takes the history whole, with any run a batch skipped.
    """
    results = []
    for partition in store_partitions.partitions():
        if partition.upper is None or partition.upper > cutoff:
            break  # newer partitions hold runs created after the cutoff, or may yet
        staying, first = store_partitions.range_staying(partition, cutoff)
        if staying:
            result = Dropped(partition, 0, f"run {first} (and {staying - 1} more) must stay")
        else:
            deleted = _delete_runs(partition, cutoff, batch_size)
            dropping = partial(store_partitions.drop_partition, partition, cutoff)
            result = store_partitions.maintaining(dropping, "drop_partition")
            # a run that must stay after all (resumed meanwhile) keeps the partition: the
            # history of the runs deleted before it stays there until the partition goes
            result = Dropped(partition, deleted + result.runs, result.kept)
        if result.kept:
            logger.info("kept history partition %s: %s", partition.suffix, result.kept)
        results.append(result)
    return results


def _delete_runs(partition: Partition, cutoff: datetime, batch_size: int) -> int:
    """Delete the partition's prunable runs in batches of their own; how many."""
    deleted, after = 0, store_partitions.START
    while True:
        batch = partial(store_partitions.delete_range_batch, partition, cutoff, after, batch_size)
        # a batch whose commit was lost with the reply runs again: its runs are gone, it
        # takes the next ones
        count, after = atomic_retrying(batch, settle=_run_again, what="prune_partition")
        deleted += count
        if count < batch_size:
            return deleted


def _run_again() -> tuple[bool, tuple[int, store_partitions.Keyset]]:
    return False, (0, store_partitions.START)


def _slot_start(moment: datetime, width: timedelta) -> datetime:
    """The start of the slot of `width` (counted from 1970-01-01 UTC) that holds `moment`."""
    return EPOCH + width * ((moment - EPOCH) // width)


def _free(
    lower: datetime, upper: datetime, taken: list[tuple[datetime | None, datetime | None]]
) -> list[Range]:
    """The pieces of [lower, upper) no taken range covers (after a change of width, a slot
    may overlap partitions of the old width)."""
    pieces = [(lower, upper)]
    for taken_lower, taken_upper in taken:
        low = taken_lower or datetime.min.replace(tzinfo=UTC)
        high = taken_upper or datetime.max.replace(tzinfo=UTC)
        kept = []
        for start, end in pieces:
            if high <= start or low >= end:
                kept.append((start, end))
                continue
            if start < low:
                kept.append((start, low))
            if high < end:
                kept.append((high, end))
        pieces = kept
    return pieces
