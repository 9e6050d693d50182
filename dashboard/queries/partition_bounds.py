"""Bounds on `run_created_at` that leave the planner the history partitions of a page's runs.

The history has a partition per day of its runs' creation (docs/partitioning.md). A read of
some runs' history by the run rows' own `created_at` prunes the other partitions only as
it runs: every partition kept is planned, about 1 ms each on a page's new connection. So a
page reads its runs first, then their history with their creation times as constants of
the statement: their spans (`durable.models.creation_spans`), here as SQL (in the ORM:
`durable.models.created_within_q`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from durable.models import creation_spans


def within_sql(created: Iterable[datetime]) -> tuple[str, list[datetime]]:
    """The bound as SQL on `run_created_at`, with its positional parameters."""
    spans = creation_spans(created)
    if not spans:  # no runs: no rows
        return "(FALSE)", []
    condition = " OR ".join(["run_created_at BETWEEN %s AND %s"] * len(spans))
    return f"({condition})", [moment for span in spans for moment in span]


def within_named(created: Iterable[datetime]) -> tuple[str, dict[str, datetime]]:
    """The bound as SQL on `run_created_at`, with named parameters (`created_<n>`)."""
    condition, moments = within_sql(created)
    params = {f"created_{n}": moment for n, moment in enumerate(moments)}
    for name in params:
        condition = condition.replace("%s", f"%({name})s", 1)
    return condition, params
