"""A run (optionally with its child runs) as one versioned JSON document.

The format is described in docs/export-format.md; `importing` reads it back. Every column
of the run, its checkpoints and its failed attempts is kept, so a run imported elsewhere
replays exactly as it was recorded.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from durable.core._validation import validate_run_id
from durable.debugging.export_schema import FORMAT, FORMAT_VERSION
from durable.debugging.records import to_record
from durable.errors import RunNotFoundError
from durable.models import Attempt, Run, Step

# ownership is this database's business: an exported run has no executor elsewhere
RUN_EXCLUDED = ("executor_id", "lease_expires_at")
ROW_EXCLUDED = ("id", "run")


def export_run(run_id: str, *, with_children: bool = False) -> dict[str, Any]:
    """The document for `run_id`; with_children adds every descendant run, parents first."""
    root = get_run(run_id)
    runs = [root, *_descendants(root.id)] if with_children else [root]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "root": root.id,
        "runs": [run_entry(run) for run in runs],
    }


def get_run(run_id: str) -> Run:
    try:
        return Run.objects.get(id=validate_run_id(run_id))
    except Run.DoesNotExist:
        raise RunNotFoundError(f"no run with id {run_id!r}; `durable list` shows runs") from None


def _descendants(run_id: str) -> list[Run]:
    found: list[Run] = []
    level = [run_id]
    while level:
        children = list(Run.objects.filter(parent_id__in=level).order_by("created_at", "id"))
        found.extend(children)
        level = [child.id for child in children]
    return found


def run_entry(run: Run) -> dict[str, Any]:
    steps = Step.objects.of_run(run).order_by("position")
    attempts = Attempt.objects.of_run(run).order_by("position", "attempt")
    return {
        "run": to_record(run, RUN_EXCLUDED),
        "steps": [to_record(step, ROW_EXCLUDED) for step in steps],
        "attempts": [to_record(attempt, ROW_EXCLUDED) for attempt in attempts],
        "children": list(
            Run.objects.filter(parent_id=run.id)
            .order_by("created_at", "id")
            .values_list("id", flat=True)
        ),
        "lineage": {
            "parent": run.parent_id,
            "forked_from": run.forked_from_id,
            "forked_from_step": run.forked_from_step,
            "forks": list(
                Run.objects.filter(forked_from_id=run.id)
                .order_by("id")
                .values_list("id", flat=True)
            ),
        },
    }
