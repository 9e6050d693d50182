"""Superseded: a run that a restart or fork of it replaces.

Once an operator restarted or forked a run, the new run carries the work on, whatever its
own outcome: the original is no longer "still failing" (the new run is, if it fails), and a
second restart of it would make a second copy. Failure groups, previews, counts and bulk or
CLI restarts all read this one rule (the new run's `forked_from` points at its origin).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from durable.models import Run

SKIPPED = (
    "superseded: it was already restarted or forked as run {successor}; restarting it again "
    "would make a second copy (pass include_superseded=True, or --include-superseded on the "
    "command line, if that is what you mean)"
)


def successors(run_ids: list[str]) -> dict[str, str]:
    """Each of `run_ids` that was restarted or forked, with its newest such run (one range
    of run_forked_from_idx)."""
    rows = Run.objects.filter(forked_from_id__in=run_ids).order_by("created_at", "id")
    return dict(rows.values_list("forked_from_id", "id"))


def superseded(runs: QuerySet[Run]) -> QuerySet[Run]:
    """The runs of `runs` that a restart or fork supersedes."""
    return runs.filter(Exists(Run.objects.filter(forked_from_id=OuterRef("id"))))


def not_superseded(runs: QuerySet[Run]) -> QuerySet[Run]:
    return runs.filter(~Exists(Run.objects.filter(forked_from_id=OuterRef("id"))))


def skipped_reason(successor: str) -> str:
    return SKIPPED.format(successor=successor)
