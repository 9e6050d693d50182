"""Bounds on `run_created_at` that leave the planner the history partitions of a page's runs.

The history has a partition per day of its runs' creation (docs/partitioning.md). A read of
some runs' history by the run rows' own `created_at` prunes the other partitions only as
it runs: every partition kept is planned, about 1 ms each on a page's new connection. So a
page reads its runs first, then their history with their creation times as constants of
the statement: spans of them, split where a day or more passes without one. A span then
holds no whole partition without a run in it, and the bound costs a pruning step or two a
span, where `= ANY(every time)` costs one a run, again at each run's probe.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Q

GAP = timedelta(days=1)  # the narrowest partition (DURABLE_PARTITION_DAYS is whole days)

Span = tuple[datetime, datetime]


def spans(created: Iterable[datetime]) -> list[Span]:
    """The times as closed spans, a new one after each gap of a day or more."""
    found: list[Span] = []
    for moment in sorted(set(created)):
        if found and moment - found[-1][1] < GAP:
            found[-1] = (found[-1][0], moment)
        else:
            found.append((moment, moment))
    return found


def within_q(created: Iterable[datetime]) -> Q:
    """The bound as an ORM condition on a history row (at least one time is given)."""
    return reduce(or_, (Q(run_created_at__range=span) for span in spans(created)))


def within_sql(created: Iterable[datetime]) -> tuple[str, list[datetime]]:
    """The bound as SQL on `run_created_at`, with its positional parameters."""
    found = spans(created)
    condition = " OR ".join(["run_created_at BETWEEN %s AND %s"] * len(found))
    return f"({condition})", [moment for span in found for moment in span]


def within_named(created: Iterable[datetime]) -> tuple[str, dict[str, datetime]]:
    """The bound as SQL on `run_created_at`, with named parameters (`created_<n>`)."""
    condition, moments = within_sql(created)
    params = {f"created_{n}": moment for n, moment in enumerate(moments)}
    for name in params:
        condition = condition.replace("%s", f"%({name})s", 1)
    return condition, params
