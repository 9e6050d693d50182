"""Read-only views of runs for application code: list and filter runs, read a run's steps,
children and events, and ask which run, step and attempt the current code runs under.

Records are frozen dataclasses decoded from the system tables; nothing here writes. Each
list query is served by an index of `durable.models.Run` (named beside each filter), with
keyset pagination on (created_at, id), so page 1000 costs what page 1 does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from durable.core import _context as context
from durable.core import _validation as validation
from durable.core._validation import validate_run_id
from durable.errors import InvalidArgumentError, RunNotFoundError
from durable.models import Attempt, Event, Run, RunStatus, Step

ORDERS = ("newest", "oldest")
MAX_LIMIT = 1000

RUN_FIELDS = (
    "id", "workflow", "status", "version", "queue", "priority", "tags", "input", "output",
    "error", "parent_id", "forked_from_id", "forked_from_step", "created_at", "started_at",
    "finished_at", "updated_at", "deadline_at", "recovery_count", "steps_done", "cancel_reason",
    "imported",
)  # fmt: skip


@dataclass(frozen=True)
class RunInfo:
    """One run as stored: `input` is {"args": [...], "kwargs": {...}}, `output` the decoded
    return value (None until SUCCESS), `error` {"type", "message", "traceback", ...} or None.
    `parent_id` is the run that started it, `forked_from_id` the run it was forked from."""

    id: str
    workflow: str
    status: str
    version: str  # "" until the first executor claims a run started by name
    queue: str
    priority: int
    tags: dict[str, Any]
    input: dict[str, Any]
    output: Any
    error: dict[str, Any] | None
    parent_id: str | None
    forked_from_id: str | None
    forked_from_step: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    deadline_at: datetime | None
    recovery_count: int
    steps_done: int  # as of the last status change; list_steps() counts a running run's live
    cancel_reason: str
    imported: bool = False  # loaded by `durable import` from a file (docs/export-format.md)

    @property
    def cursor(self) -> str:
        """Pass as `list_runs(cursor=…)` to get the runs after this one, in the same order."""
        raw = json.dumps([self.created_at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode()


@dataclass(frozen=True)
class AttemptInfo:
    """A failed attempt of a step (retried, or the one that failed it)."""

    attempt: int
    error: dict[str, Any]
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class StepInfo:
    """One entry of a run's history: a step, a transaction, or a primitive (`kind`: sleep,
    send, recv, set_event, get_event, child, wait). `attempts` counts every attempt, the
    recorded one included; `failures` holds the failed ones, oldest first."""

    position: int
    name: str
    kind: str
    status: str
    input: Any
    output: Any
    error: dict[str, Any] | None
    attempts: int
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    failures: list[AttemptInfo] = field(default_factory=list)


@dataclass(frozen=True)
class EventInfo:
    key: str
    value: Any
    updated_at: datetime


@dataclass(frozen=True)
class CurrentRun:
    """Where the calling code runs: `position`, `step` and `attempt` are None in the
    workflow's own body and set inside a step (attempt 1, 2, … across retries and
    recoveries), so f"{run_id}:{position}" is a key that is stable across attempts."""

    run_id: str
    workflow: str
    version: str
    step: str | None
    position: int | None
    attempt: int | None


def current() -> CurrentRun | None:
    """The run (and step attempt) executing on this thread, or None outside any workflow.
    Reads context variables only: no database access."""
    run_context = context.current()
    if run_context is None:
        return None
    step = context.current_step.get() if run_context.in_step else None
    return CurrentRun(
        run_id=run_context.run_id,
        workflow=run_context.workflow.name,
        version=run_context.workflow.version,
        step=step.step if step else None,
        position=step.position if step else None,
        attempt=step.attempt if step else None,
    )


def list_runs(
    *,
    status: str | Iterable[str] | None = None,
    workflow: str | None = None,
    version: str | None = None,
    queue: str | None = None,
    tags: dict[str, Any] | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    limit: int = 100,
    order: str = "newest",
    cursor: str | None = None,
) -> list[RunInfo]:
    """Runs matching every filter given, newest (or oldest) first, at most `limit`.

    `started_after`/`started_before` bound the time the run was started (`created_at`):
    after is exclusive, before inclusive. `tags` matches runs whose tags contain all of
    these pairs. For the next page pass the last record's `.cursor`.
    """
    runs = _matching(status, workflow, version, queue, tags, started_after, started_before)
    newest = _order(order) == "newest"
    if cursor is not None:
        runs = runs.filter(_after(cursor, newest))
    by = ("-created_at", "-id") if newest else ("created_at", "id")
    return [RunInfo(**row) for row in runs.order_by(*by).values(*RUN_FIELDS)[: _limit(limit)]]


def _matching(
    status: str | Iterable[str] | None,
    workflow: str | None,
    version: str | None,
    queue: str | None,
    tags: dict[str, Any] | None,
    started_after: datetime | None,
    started_before: datetime | None,
) -> QuerySet:
    """The runs list_runs filters to, each filter on the index that serves it."""
    runs = Run.objects.all()
    statuses = _statuses(status)
    if statuses is not None:  # run_status_created_idx, or run_workflow_status_idx
        runs = runs.filter(status__in=statuses)
    if workflow is not None:  # run_workflow_created_idx
        runs = runs.filter(workflow=validation.text("workflow", workflow, max_length=300))
    if version is not None:  # run_version_created_idx
        runs = runs.filter(version=_version(version))
    if queue is not None:  # run_queue_created_idx
        runs = runs.filter(queue=validation.text("queue", queue))
    if tags:  # run_tags_gin: tags @> '{"customer": "acme"}'
        runs = runs.filter(tags__contains=validation.tags(tags))
    if started_after is not None:  # run_created_idx and every (…, created_at, id) index
        runs = runs.filter(created_at__gt=_aware("started_after", started_after))
    if started_before is not None:
        runs = runs.filter(created_at__lte=_aware("started_before", started_before))
    return runs


def get_run(run_id: str) -> RunInfo:
    """One run by id (RunNotFoundError if there is none)."""
    row = Run.objects.filter(id=validate_run_id(run_id)).values(*RUN_FIELDS).first()
    if row is None:
        raise RunNotFoundError(f"no run with id {run_id!r}")
    return RunInfo(**row)


def list_children(run_id: str) -> list[RunInfo]:
    """The runs `run_id` started, oldest first (run_parent_idx)."""
    _run_created(run_id)  # or RunNotFoundError
    children = Run.objects.filter(parent_id=run_id).order_by("created_at", "id")
    return [RunInfo(**row) for row in children.values(*RUN_FIELDS)]


def list_steps(run_id: str) -> list[StepInfo]:
    """A run's recorded history in position order, with each entry's failed attempts
    (step_run_position_uniq and attempt_run_idx: two index range scans)."""
    created = _run_created(run_id)
    failures: dict[int, list[AttemptInfo]] = {}
    for attempt in _attempts(run_id, created):
        position = attempt.pop("position")
        failures.setdefault(position, []).append(AttemptInfo(**attempt))
    steps = Step.objects.filter(run_id=run_id, run_created_at=created).order_by("position").values(
        "position", "name", "kind", "status", "input", "output", "error", "attempts",
        "started_at", "finished_at", "duration_ms",
    )  # fmt: skip
    return [StepInfo(**step, failures=failures.get(step["position"], [])) for step in steps]


def list_events(run_id: str) -> list[EventInfo]:
    """The events run `run_id` published, by key (event_run_key_uniq)."""
    _run_created(run_id)  # or RunNotFoundError
    events = Event.objects.filter(run_id=run_id).order_by("key")
    return [EventInfo(**row) for row in events.values("key", "value", "updated_at")]


def _attempts(run_id: str, created: datetime) -> QuerySet:
    return (
        Attempt.objects.filter(run_id=run_id, run_created_at=created)
        .order_by("position", "attempt")
        .values("position", "attempt", "error", "started_at", "finished_at")
    )


def _run_created(run_id: str) -> datetime:
    """The run's creation time, which names the partition of its history: read by it, a
    run's steps and attempts are planned on that partition alone, not on one a day kept."""
    created = Run.objects.filter(id=validate_run_id(run_id)).values_list("created_at", flat=True)
    for moment in created:
        return moment
    raise RunNotFoundError(f"no run with id {run_id!r}")


def _statuses(status: str | Iterable[str] | None) -> list[str] | None:
    if status is None:
        return None
    statuses = [status] if isinstance(status, str) else list(status)
    wrong = [value for value in statuses if value not in RunStatus.values]
    if wrong or not statuses:
        raise InvalidArgumentError(
            "status", f"{wrong[0] if wrong else 'an empty list'!r:.60} is not a run status; "
            f"use one (or a list) of {', '.join(RunStatus.values)}",
        )  # fmt: skip
    return statuses


def _version(version: Any) -> str:
    """A code version, or "" for runs started by name that no executor has claimed yet."""
    return "" if version == "" else validation.text("version", version, max_length=100)


def _aware(argument: str, value: Any) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidArgumentError(
            argument, "must be a timezone-aware datetime, e.g. django.utils.timezone.now()"
        )
    return value


def _order(order: Any) -> str:
    if order not in ORDERS:
        raise InvalidArgumentError("order", f"must be one of {', '.join(ORDERS)}")
    return order


def _limit(limit: Any) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return limit


def _after(cursor: Any, newest: bool) -> Q:
    """Rows past the cursor; the redundant bound on created_at lets the index seek to it."""
    try:
        created, run_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        created_at = _aware("cursor", datetime.fromisoformat(created))
        validate_run_id(run_id)
    except (AttributeError, TypeError, ValueError, binascii.Error):
        raise InvalidArgumentError(
            "cursor", "is not a cursor: pass the `.cursor` of a run that list_runs returned"
        ) from None
    if newest:
        return Q(created_at__lte=created_at) & (Q(created_at__lt=created_at) | Q(id__lt=run_id))
    return Q(created_at__gte=created_at) & (Q(created_at__gt=created_at) | Q(id__gt=run_id))
