"""Reading runs: the runs list with the dashboard's filters and keyset pages, and one run
with its steps, attempts, lineage, events, streams and audit entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from dashboard.api.problems import ERRORS, ApiProblem, Problem, invalid_form
from dashboard.forms import RunFilterForm
from dashboard.queries import detail
from dashboard.queries import runs as queries
from durable.models import Event, StreamEntry

router = Router(tags=["runs"])
LIMIT = 200  # events and stream entries per run in one answer


class RunFilterQuery(Schema):
    """The runs list's filters, as the dashboard's runs page takes them."""

    status: str = ""
    workflow: str = ""
    version: str = ""
    queue: str = ""
    error_type: str = ""
    fingerprint: str = ""
    tag: str = ""
    since: str = ""
    until: str = ""
    window: str = ""
    q: str = ""
    logs: str = Field(
        default="", description="text in the runs' kept step log messages (3+ characters)"
    )
    sort: str = ""
    delayed: bool = False
    cursor: str = ""
    limit: int = Field(queries.PAGE_SIZE, ge=1, le=200, description="runs per page")


class RunRow(Schema):
    id: str
    workflow: str
    version: str
    status: str
    queue: str
    error_type: str
    error_message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps_recorded: int
    superseded_by: str | None
    parent_id: str | None = None
    forked_from_id: str | None = None
    imported: bool = False  # loaded by `durable import`: no executor takes it on its own
    held_at: datetime | None = None  # held by an operator (status stays ENQUEUED/RUNNING)


class RunsPage(Schema):
    runs: list[RunRow]
    older: str | None  # the cursor of the next page toward older runs
    newer: str | None
    counts: dict[str, int]


def parse_filter(params: dict[str, Any]) -> queries.RunFilter:
    """The filter, or a 400 naming the field the dashboard's form refuses."""
    form = RunFilterForm(
        {name: value for name, value in params.items() if value not in ("", None, False)}
    )
    if not form.is_valid():
        raise invalid_form(form)
    return form.run_filter()


@router.get("/runs", response={200: RunsPage, ERRORS: Problem}, summary="List runs")
def list_runs(request: HttpRequest, filters: Query[RunFilterQuery]) -> dict[str, Any]:
    """Newest first (or `sort=oldest`); follow `older`/`newer` as `cursor` for more."""
    params = filters.dict()
    cursor, limit = queries.Cursor.decode(params.pop("cursor")), params.pop("limit")
    if filters.cursor and cursor is None:
        raise ApiProblem(
            400,
            "cursor: not a cursor this API gave out.",
            [{"field": "cursor", "message": "not a cursor this API gave out"}],
        )
    run_filter = parse_filter(params)
    page = queries.runs_page(run_filter, cursor, size=limit)
    return {
        "runs": page.rows,
        "older": page.older.encode() if page.older else None,
        "newer": page.newer.encode() if page.newer else None,
        "counts": queries.status_counts(run_filter),
    }


RUN_FIELDS = (
    "id",
    "workflow",
    "version",
    "status",
    "queue",
    "priority",
    "tags",
    "error_type",
    "error_fingerprint",
    "parent_id",
    "forked_from_id",
    "forked_from_step",
    "executor_id",
    "recovery_count",
    "cancel_reason",
    "imported",
    "held_at",
    "hold_reason",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
    "timeout_seconds",
)
STEP_FIELDS = (
    "position",
    "name",
    "kind",
    "status",
    "error_type",
    "attempts",
    "started_at",
    "finished_at",
    "duration_ms",
    "patched",
    "error",
)
ATTEMPT_FIELDS = (
    "position", "attempt", "name", "error_type", "error", "final", "started_at", "finished_at"
)  # fmt: skip


class RunDetail(Schema):
    run: dict[str, Any]
    steps: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    children: list[dict[str, Any]]
    forks: list[dict[str, Any]]
    events: list[dict[str, Any]]
    streams: list[dict[str, Any]]
    audit: list[dict[str, Any]]


def _pick(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def _with_values(obj: Any, row: dict[str, Any], *names: str) -> dict[str, Any]:
    """JSON text previews (first 64 KB) of big values, and their full length."""
    for name in names:
        row[name] = getattr(obj, f"{name}_preview", None)
        row[f"{name}_chars"] = getattr(obj, f"{name}_chars", None)
    return row


@router.get("/runs/{path:run_id}", response={200: RunDetail, ERRORS: Problem}, summary="One run")
def get_run(request: HttpRequest, run_id: str) -> dict[str, Any]:
    """The run, its checkpoints, failed attempts, children and forks, events, stream entries
    and the operator actions on it; values as JSON text previews (`*_chars` is the full size)."""
    history = detail.run_history(run_id[:200])
    if history is None:
        raise ApiProblem(404, f"No run {run_id[:200]!r}.")
    run = history.run
    lineage = detail.lineage(run)
    return {
        "run": _with_values(run, _pick(run, RUN_FIELDS), "input", "output"),
        "steps": [_with_values(s, _pick(s, STEP_FIELDS), "input", "output") for s in history.steps],
        "attempts": [_pick(a, ATTEMPT_FIELDS) for a in history.attempts],
        "children": lineage["children"],
        "forks": lineage["forks"],
        "events": _values(Event.objects.filter(run_id=run.id).order_by("key"), "key", "updated_at"),
        "streams": _values(
            StreamEntry.objects.filter(run_id=run.id).order_by("key", "offset"),
            "key",
            "offset",
            "closed",
            "position",
            "created_at",
        ),
        "audit": [_audit_row(entry) for entry in detail.run_audit(run.id)],
    }


def _values(rows, *fields: str) -> list[dict[str, Any]]:
    annotated = rows.defer("value").annotate(**detail.previews("value"))[:LIMIT]
    return [_with_values(row, _pick(row, fields), "value") for row in annotated]


def _audit_row(entry: Any) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor": entry.actor,
        "action": entry.action,
        "run_ids": entry.run_ids[:100],
        "detail": entry.detail,
        "created_at": entry.created_at,
    }
