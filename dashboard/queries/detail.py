"""One run with its history: steps, failed attempts, lineage and the actions taken on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast, Left, Length

from dashboard.queries.activity import shown
from durable.models import Attempt, AuditEntry, Run, RunStatus, Step, StepLog

LINEAGE_LIMIT = 50
PREVIEW_CHARS = 64 * 1024


def full_value(run_id: str, field: str, position: int | None = None) -> str | None:
    """One whole input or output as JSON text, for download (None if there is none)."""
    model = (
        Run.objects.filter(id=run_id)
        if position is None
        else Step.objects.of_runs([run_id]).filter(position=position)
    )
    return model.annotate(text=Cast(field, TextField())).values_list("text", flat=True).first()


@dataclass
class RunHistory:
    run: Run
    steps: list[Step]
    attempts: list[Attempt]

    def attempts_by_position(self) -> dict[int, list[Attempt]]:
        """Retried attempts per step; a failed step's last attempt is the step itself."""
        final = {(step.position, step.attempts) for step in self.steps if step.status == "ERROR"}
        grouped: dict[int, list[Attempt]] = {}
        for attempt in self.attempts:
            if (attempt.position, attempt.attempt) in final:
                continue
            grouped.setdefault(attempt.position, []).append(attempt)
        return grouped

    def unrecorded_attempts(self) -> dict[int, list[Attempt]]:
        """Failed attempts of a position with no checkpoint: the run was cancelled or lost
        its executor while the step was still being retried."""
        recorded = {step.position for step in self.steps}
        grouped: dict[int, list[Attempt]] = {}
        for attempt in self.attempts:
            if attempt.position not in recorded:
                grouped.setdefault(attempt.position, []).append(attempt)
        return grouped


def previews(*fields: str) -> dict[str, Any]:
    """`<field>_preview` (the first PREVIEW_CHARS characters of the JSON text) and
    `<field>_chars` (its length) for each field, computed in the database: a page shows
    ten 8 MB outputs as ten 64 KB previews, and Python never holds the rest."""
    annotations: dict[str, Any] = {}
    for name in fields:
        text = Cast(name, TextField())
        annotations[f"{name}_preview"] = Left(text, PREVIEW_CHARS)
        annotations[f"{name}_chars"] = Length(text)
    return annotations


def run_history(run_id: str) -> RunHistory | None:
    """The run, its checkpoints in order and every failed attempt (attempt_run_idx);
    inputs and outputs as previews (see `previews`)."""
    run = (
        Run.objects.select_related("parent", "forked_from")
        .defer("input", "output", "parent__input", "parent__output")
        .defer("forked_from__input", "forked_from__output")
        .annotate(**previews("input", "output"))
        .filter(id=run_id)
        .first()
    )
    if run is None:
        return None
    steps = list(
        Step.objects.of_run(run)
        .defer("input", "output")
        .annotate(**previews("input", "output"))
        .order_by("position")
    )
    attempts = list(Attempt.objects.of_run(run).order_by("position", "attempt"))
    return RunHistory(run=run, steps=steps, attempts=attempts)


def _brief(runs: QuerySet[Run]) -> list[dict[str, Any]]:
    fields = ("id", "workflow", "status", "created_at", "forked_from_step")
    return list(runs.order_by("-created_at").values(*fields)[:LINEAGE_LIMIT])


def lineage(run: Run) -> dict[str, list[dict[str, Any]]]:
    """Children (started by this run) and forks (derived from it), newest first.

    Served by the foreign-key indexes on parent_id and forked_from_id.
    """
    return {
        "children": _brief(Run.objects.filter(parent_id=run.id)),
        "forks": _brief(Run.objects.filter(forked_from_id=run.id)),
    }


def superseded_by(run: Run, forks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """For a failed, cancelled or dead run, its newest fork or restart (whatever that run's
    own outcome: the work goes on there)."""
    if run.status not in RunStatus.resumable():
        return None
    return forks[0] if forks else None


def run_audit(run_id: str, limit: int = 20) -> list[AuditEntry]:
    """Operator actions that named this run (audit_run_ids_gin serves `run_ids @> [id]`)."""
    return shown(
        AuditEntry.objects.filter(run_ids__contains=[run_id]).order_by("-created_at")[:limit]
    )


STEP_LOG_BATCHES = 500  # per run page; each batch is one attempt's bounded records


def step_logs(run: Run) -> dict[int, list[StepLog]]:
    """The kept log records of each step, one batch per attempt that logged (steplog_run_idx)."""
    found: dict[int, list[StepLog]] = {}
    rows = StepLog.objects.of_run(run).order_by("position", "attempt", "id")
    for batch in rows[:STEP_LOG_BATCHES]:
        found.setdefault(batch.position, []).append(batch)
    return found
