"""Checkpoint sizes and CPU share per step, for the latency page.

Sizes are PostgreSQL's stored size of the output (`pg_column_size`, after compression),
what a step costs the database per run. Reading outputs visits the heap, so windows are
capped at a day: the figure answers "which step writes big checkpoints", not history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, F, FloatField, Func, IntegerField, Max, Sum, Value
from django.db.models.functions import Coalesce, NullIf

from durable.models import Step

LONGEST_WINDOW = timedelta(days=1)


class StoredSize(Func):
    """PostgreSQL's stored (compressed) size of a value in bytes; 0 for no value."""

    function = "pg_column_size"
    output_field = IntegerField()


def step_sizes(since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per step name: checkpoints in the window, average and largest stored output in
    bytes, and CPU time over wall time (near 1: working; near 0: waiting on I/O or locks),
    largest first (a range over step_finished_idx, outputs from the heap)."""
    since = max(since, until - LONGEST_WINDOW)
    size = Coalesce(StoredSize("output"), Value(0))
    rows = (
        Step.objects.filter(
            finished_at__gte=since,
            finished_at__lt=until,
            kind__in=("step", "transaction"),
            status="SUCCESS",
        )
        .values("name")
        .annotate(
            count=Count("*"),
            avg_bytes=Avg(size, output_field=FloatField()),
            max_bytes=Max(size),
            share=Sum("cpu_ms") / NullIf(Sum("duration_ms"), Value(0.0)),
        )
        .order_by(F("max_bytes").desc(), "name")[:100]
    )
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
