"""Checkpoint sizes and CPU share per step, for the latency page.

Sizes are PostgreSQL's stored size of the output (`pg_column_size`, after compression),
what a step costs the database per run. Reading outputs visits the heap, so windows are
capped at a day and read its newest NEWEST checkpoints only (a day at a million runs holds
~330,000: reading them all cost the latency page ~250 ms): the figure answers "which step
writes big checkpoints", not history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Func,
    IntegerField,
    QuerySet,
    Value,
)
from django.db.models.functions import Coalesce

from durable.models import Step

LONGEST_WINDOW = timedelta(days=1)
NEWEST = 10_000  # checkpoints read per page view, the newest of the window


class StoredSize(Func):
    """PostgreSQL's stored (compressed) size of a value in bytes; 0 for no value."""

    function = "pg_column_size"
    output_field = IntegerField()


def step_sizes(since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per step name: checkpoints in the window (its newest NEWEST), average and largest
    stored output in bytes, and CPU time over wall time (near 1: working; near 0: waiting
    on I/O or locks), largest first (the first 100)."""
    by_name: dict[str, list[Any]] = {}
    for row in sizes_query(since, until):
        sizes = by_name.setdefault(row["name"], [0, 0, 0, 0.0, 0.0])
        sizes[0] += 1
        sizes[1] += row["size"]
        sizes[2] = max(sizes[2], row["size"])
        sizes[3] += row["cpu_ms"]
        sizes[4] += row["duration_ms"]
    rows = [
        {
            "name": name,
            "count": count,
            "avg_bytes": total / count,
            "max_bytes": largest,
            "cpu_share": min(cpu / wall, 1.0) if wall else None,
        }
        for name, (count, total, largest, cpu, wall) in by_name.items()
    ]
    return sorted(rows, key=lambda row: (-row["max_bytes"], row["name"]))[:100]


def sizes_query(since: datetime, until: datetime) -> QuerySet:
    """The checkpoints `step_sizes` sums up: a backward range over step_finished_idx (on
    each partition of the history, docs/partitioning.md), stopped after NEWEST
    checkpoints, whose outputs' sizes are read from the heap. Summed in Python: a second
    pass over durable_step by id would probe every partition."""
    since = max(since, until - LONGEST_WINDOW)
    return (
        Step.objects.filter(
            finished_at__gte=since,
            finished_at__lt=until,
            kind__in=("step", "transaction"),
            status="SUCCESS",
        )
        .order_by("-finished_at")
        .annotate(size=Coalesce(StoredSize("output"), Value(0)))
        .values("name", "size", "cpu_ms", "duration_ms")[:NEWEST]
    )


def read_all(rows: list[dict[str, Any]]) -> bool:
    """Whether `step_sizes` read every checkpoint of its window (False: its newest NEWEST)."""
    return sum(row["count"] for row in rows) < NEWEST
