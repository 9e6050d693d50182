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
    Avg,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, NullIf

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
    on I/O or locks), largest first."""
    rows = sizes_query(since, until)
    return [
        {
            "name": row["name"],
            "count": row["count"],
            "avg_bytes": float(row["avg_bytes"]),
            "max_bytes": row["max_bytes"],
            "cpu_share": None if row["share"] is None else min(float(row["share"]), 1.0),
        }
        for row in rows
    ]


def sizes_query(since: datetime, until: datetime) -> QuerySet:
    """The aggregation `step_sizes` runs: a backward range over step_finished_idx, stopped
    after NEWEST checkpoints, whose outputs are then read from the heap."""
    since = max(since, until - LONGEST_WINDOW)
    size = Coalesce(StoredSize("output"), Value(0))
    newest = (
        Step.objects.filter(
            finished_at__gte=since,
            finished_at__lt=until,
            kind__in=("step", "transaction"),
            status="SUCCESS",
        )
        .order_by("-finished_at")
        .values("pk")[:NEWEST]
    )
    return (
        Step.objects.filter(pk__in=Subquery(newest))
        .values("name")
        .annotate(
            count=Count("*"),
            avg_bytes=Avg(size, output_field=FloatField()),
            max_bytes=Max(size),
            share=Sum("cpu_ms") / NullIf(Sum("duration_ms"), Value(0.0)),
        )
        .order_by(F("max_bytes").desc(), "name")[:100]
    )


def read_all(rows: list[dict[str, Any]]) -> bool:
    """Whether `step_sizes` read every checkpoint of its window (False: its newest NEWEST)."""
    return sum(row["count"] for row in rows) < NEWEST
