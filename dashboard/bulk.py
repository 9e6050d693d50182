"""Bulk jobs: one action over thousands of runs, a batch per request, resumable by cursor.

The browser drives the job: each request applies the action to the next batch (through
`durable.operations`, audited as the operator) and returns the progress partial, which
asks for the next batch until none is left. Runs created after the job started are never
touched, so "restart all" cannot chase its own new runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.queries.runs import Cursor, RunFilter, filtered_runs
from durable import operations
from durable.models import RunStatus

BATCH = 200
RESULT_SAMPLES = 20
REASON_SAMPLES = 3

ELIGIBLE = {
    "cancel": RunStatus.active(),
    "resume": RunStatus.resumable(),
    "restart": tuple(RunStatus.values),
}

PAST = {"cancel": "cancelled", "resume": "resumed", "restart": "restarted"}


def eligible_count(action: str, breakdown: dict[str, int]) -> int:
    """How many runs of a status breakdown the action would change (the rest are refused)."""
    return sum(count for status, count in breakdown.items() if status in ELIGIBLE[action])


@dataclass
class Job:
    """A bulk job's running totals; `refused` maps a reason to its count and sample runs."""

    action: str
    total: int
    done: int = 0
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)

    @property
    def processed(self) -> int:
        return self.done + self.refused_count

    @property
    def refused_count(self) -> int:
        return sum(entry["count"] for entry in self.refused.values())

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))

    def record(self, outcome: operations.BulkResult) -> None:
        self.done += outcome.done_count
        for run_id, new_id in outcome.done.items():
            if len(self.results) < RESULT_SAMPLES:
                self.results[run_id] = new_id
        for run_id, reason in outcome.refused.items():
            entry = self.refused.setdefault(reason, {"count": 0, "runs": []})
            entry["count"] += 1
            if len(entry["runs"]) < REASON_SAMPLES:
                entry["runs"].append(run_id)


def next_matching(
    run_filter: RunFilter, as_of: datetime, cursor: Cursor | None
) -> tuple[list[str], Cursor | None]:
    """The next batch of matching run ids in (created_at, id) order, and the cursor after it."""
    runs = filtered_runs(run_filter).filter(created_at__lte=as_of)
    if cursor is not None:
        runs = runs.filter(created_at__lte=cursor.created_at).exclude(
            created_at=cursor.created_at, id__gte=cursor.run_id
        )
    rows = list(runs.order_by("-created_at", "-id").values_list("created_at", "id")[:BATCH])
    if not rows:
        return [], None
    last_created, last_id = rows[-1]
    return [run_id for _, run_id in rows], Cursor(last_created, last_id)


def apply(action: str, run_ids: list[str], actor: str, reason: str = "") -> operations.BulkResult:
    """Apply one action to one batch, attributed to `actor`, with `reason`, in the audit log."""
    call = {
        "cancel": operations.cancel,
        "resume": operations.resume,
        "restart": operations.restart,
    }[action]
    with operations.acting_as(actor):
        return call(run_ids, reason=reason or f"bulk {action} by {actor}")
