"""Cron schedules managed at run time: `durable.schedules.create / update / pause / resume /
delete / trigger / backfill / get / list` (also `manage.py durable schedules …` and the
dashboard's health page). Every change is audited, in the transaction that makes it.

Schedules declared with `@durable.scheduled` are rows too (source "code"): operators can
pause, resume, trigger and backfill them (a pause outlives deploys), while their cron and
workflow stay the code's. Ticks that fall while a schedule is paused never run on resume
(nor count as missed); `backfill(name, paused_at, resumed_at)` runs them if wanted.
"""

from __future__ import annotations

import builtins
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Now

from durable.core import _clock as clock
from durable.core import _registry as registry
from durable.core import _start as api
from durable.core import _validation as validation
from durable.core._audit import current_actor
from durable.core.store import _schedules as store_schedules
from durable.errors import (
    DurableError,
    InvalidArgumentError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    UnknownWorkflowError,
)
from durable.models import AuditEntry, Run, Schedule, ScheduleSource
from durable.queues import Queue
from durable.schedules import _checks as checks
from durable.schedules import _cron as cron
from durable.schedules import _declared as schedules
from durable.schedules._ticker import start_tick

MAX_BACKFILL_TICKS = 1000
UNSET: Any = object()
Change = TypeVar("Change", bound=Callable[..., Any])


def _refusals_audited(action: str) -> Callable[[Change], Change]:
    """A refused change is on the record too, like a refused run action: who asked, what,
    and why it was refused (written after the refused transaction rolled back)."""

    def decorate(change: Change) -> Change:
        @functools.wraps(change)
        def audited(name: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return change(name, *args, **kwargs)
            except DurableError as exc:
                _audit_refusal(action, name, kwargs.get("actor"), kwargs.get("reason"), exc)
                raise

        return audited  # type: ignore[return-value]

    return decorate


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as operators see it; `next_tick_at` is None while it is paused."""

    name: str
    workflow: str
    source: str
    cron: str
    missed: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str | None
    paused: bool
    last_tick_at: datetime | None
    next_tick_at: datetime | None
    missed_ticks: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class BackfillResult:
    """The runs a backfill started, and the ticks of the window that already had one."""

    started: list[str]
    existing: list[str]


@_refusals_audited("create")
def create(
    name: str,
    workflow: Callable[..., Any] | str,
    *,
    cron: str,
    args: builtins.list[Any] | None = None,  # `list` is this module's list()
    kwargs: dict[str, Any] | None = None,
    missed: str = "latest",
    queue: str | Queue | None = None,
    paused: bool = False,
    actor: str | None = None,
    reason: str = "",
) -> ScheduleInfo:
    """A schedule stored in PostgreSQL; its first run is at its next tick (no backfill)."""
    name = checks.name(name)
    expression = checks.cron_expression(cron)
    definition = checks.definition(workflow)
    fields = {"workflow": definition.name, "cron": expression,
              "missed_policy": schedules.check_policy(missed),
              "input": checks.run_input(definition, args, kwargs), "queue": checks.queue(queue),
              "paused": checks.flag("paused", paused)}  # fmt: skip
    if schedules.declared(name) is not None:
        raise _exists(name)
    try:
        with transaction.atomic():
            Schedule.objects.create(name=name, source=ScheduleSource.API, missed_ticks=0,
                                    last_tick_at=cron_latest(expression), **fields)  # fmt: skip
            _audit("create", name, actor, reason, detail=_printable(fields))
    except IntegrityError:
        raise _exists(name) from None
    return get(name)


@_refusals_audited("update")
def update(
    name: str,
    *,
    workflow: Callable[..., Any] | str = UNSET,
    cron: str = UNSET,
    args: builtins.list[Any] | None = UNSET,
    kwargs: dict[str, Any] | None = UNSET,
    missed: str = UNSET,
    queue: str | Queue | None = UNSET,
    actor: str | None = None,
    reason: str = "",
) -> ScheduleInfo:
    """Change an API schedule; a new cron applies from the next tick after now."""
    with transaction.atomic():
        row = _locked(name)
        if row.source == ScheduleSource.CODE:
            raise ScheduleConflictError(
                f"schedule {name!r} is declared in code (@durable.scheduled): change its cron "
                "or workflow there and deploy; here you can pause, resume, trigger or backfill it"
            )
        changes = _changes(row, workflow, cron, args, kwargs, missed, queue)
        if "cron" in changes:  # the new cron's ticks up to now are not due
            row.last_tick_at = _later(row.last_tick_at, cron_latest(changes["cron"]))
        for field, value in changes.items():
            setattr(row, field, value)
        row.revision += 1
        row.save()
        _audit("update", name, actor, reason, detail=_printable(changes))
    return get(name)


def _changes(
    row: Schedule, workflow: Any, cron: Any, args: Any, kwargs: Any, missed: Any, queue: Any
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if cron is not UNSET:
        changes["cron"] = checks.cron_expression(cron)
    if missed is not UNSET:
        changes["missed_policy"] = schedules.check_policy(missed)
    if queue is not UNSET:
        changes["queue"] = checks.queue(queue)
    if (workflow, args, kwargs) != (UNSET, UNSET, UNSET):  # the input must fit the workflow
        definition = checks.definition(row.workflow if workflow is UNSET else workflow)
        current = row.input or {}
        changes["workflow"] = definition.name
        changes["input"] = checks.run_input(
            definition,
            current.get("args") if args is UNSET else args,
            current.get("kwargs") if kwargs is UNSET else kwargs,
        )
    return changes


@_refusals_audited("pause")
def pause(name: str, *, actor: str | None = None, reason: str = "") -> ScheduleInfo:
    """Stop starting runs until resumed; a pause of a code schedule outlives deploys."""
    with transaction.atomic():
        changed = Schedule.objects.filter(name=checks.name(name)).update(
            paused=True, revision=F("revision") + 1, updated_at=Now()
        )
        if not changed:
            raise _not_found(name)
        _audit("pause", name, actor, reason)
    return get(name)


@_refusals_audited("resume")
def resume(name: str, *, actor: str | None = None, reason: str = "") -> ScheduleInfo:
    """Start runs again from the next tick; the ticks that fell while paused do not run."""
    with transaction.atomic():
        row = _locked(name)
        if row.paused:
            row.last_tick_at = _later(row.last_tick_at, cron_latest(row.cron))
            row.paused = False
            row.revision += 1
            row.save()
        _audit("resume", name, actor, reason)
    return get(name)


@_refusals_audited("delete")
def delete(name: str, *, actor: str | None = None, reason: str = "") -> None:
    """Remove a schedule; its runs stay. A code schedule is deleted only once its decorator
    is gone everywhere: an executor that still declares it would add it back, unpaused."""
    with transaction.atomic():
        row = _locked(name)
        if row.source == ScheduleSource.CODE and _still_in_code(row):
            raise ScheduleConflictError(
                f"schedule {name!r} is declared in code (@durable.scheduled) that this "
                "process or a worker still has: remove the decorator and deploy, then delete "
                "it; to stop its runs now, pause it (a pause outlives deploys)"
            )
        row.delete()
        _audit("delete", name, actor, reason)


@_refusals_audited("trigger")
def trigger(
    name: str, *, run_id: str | None = None, actor: str | None = None, reason: str = ""
) -> api.RunHandle:
    """One run now, paused or not, with its own id (`<name>@manual-<random>` unless given);
    it receives the current time as its tick."""
    row = _row(name)
    workflow = _runnable(row)
    run_id = run_id or f"{name}@manual-{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        run_id = start_tick(workflow, row, clock.now().astimezone(UTC), run_id=run_id)
        _audit("trigger", name, actor, reason, run_ids=[run_id])
    return api.RunHandle(run_id)


@_refusals_audited("backfill")
def backfill(
    name: str, start: datetime, end: datetime, *, actor: str | None = None, reason: str = ""
) -> BackfillResult:
    """Start one run for each tick in [start, end) that has none: each tick keeps its own
    run id, so a repeated or concurrent backfill, or a tick that already ran, starts nothing
    twice (within retention: a pruned run's tick would run again)."""
    start, end = checks.window(start, end)
    with transaction.atomic():
        row = _locked(name)  # concurrent backfills of one schedule take turns
        workflow = _runnable(row)
        declared = schedules.declared(row.name) if row.source == ScheduleSource.CODE else None
        ticks = cron.ticks_between(declared.cron if declared else row.cron, start, end,
                                   MAX_BACKFILL_TICKS)  # fmt: skip
        if len(ticks) > MAX_BACKFILL_TICKS:
            raise InvalidArgumentError(
                "end", f"the window has over {MAX_BACKFILL_TICKS} ticks; backfill it in parts"
            )
        ids = {cron.run_id_for(row.name, tick): tick for tick in ticks}
        existing = set(Run.objects.filter(id__in=ids).values_list("id", flat=True))
        started = [start_tick(workflow, row, tick) for run_id, tick in ids.items()
                   if run_id not in existing]  # fmt: skip
        detail = {"start": start.isoformat(), "end": end.isoformat(), "ticks": len(ticks)}
        _audit("backfill", name, actor, reason, run_ids=started, detail=detail)
    return BackfillResult(started, sorted(existing))


def get(name: str) -> ScheduleInfo:
    return _info(_row(name), clock.now())


def list() -> builtins.list[ScheduleInfo]:  # noqa: A001 - durable.schedules.list()
    """Every schedule, code and API, by name."""
    now = clock.now()
    return [_info(row, now) for row in Schedule.objects.order_by("name")]


def _info(row: Schedule, now: datetime) -> ScheduleInfo:
    run_input = row.input or {}
    next_tick = None
    if not row.paused:
        next_tick = cron.next_tick(row.cron, _later(row.last_tick_at, now))
    return ScheduleInfo(
        name=row.name, workflow=row.workflow, source=row.source, cron=row.cron,
        missed=row.missed_policy, args=run_input.get("args", []),
        kwargs=run_input.get("kwargs", {}), queue=row.queue, paused=row.paused,
        last_tick_at=row.last_tick_at, next_tick_at=next_tick, missed_ticks=row.missed_ticks,
        created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


def cron_latest(expression: str) -> datetime:
    return cron.latest_tick(expression, clock.now())


def _later(first: datetime | None, second: datetime) -> datetime:
    return second if first is None else max(first, second)


def _row(name: str) -> Schedule:
    try:
        return Schedule.objects.get(name=checks.name(name))
    except Schedule.DoesNotExist:
        raise _not_found(name) from None


def _locked(name: str) -> Schedule:
    try:
        return Schedule.objects.select_for_update().get(name=checks.name(name))
    except Schedule.DoesNotExist:
        raise _not_found(name) from None


def _still_in_code(row: Schedule) -> bool:
    """Judged from the database, not only from what this process imported: a CLI process
    has not imported the decorator, the workers' executor rows say they serve it."""
    checks.discover(row.name)
    return schedules.declared(row.name) is not None or store_schedules.served_anywhere(row.workflow)


def _runnable(row: Schedule) -> Callable[..., Any] | str:
    """What this process starts for the schedule: its code, or a workflow it registered."""
    checks.discover(row.name if row.source == ScheduleSource.CODE else row.workflow)
    declared = schedules.declared(row.name) if row.source == ScheduleSource.CODE else None
    if declared is not None:
        return declared.workflow
    if not registry.is_registered(row.workflow):
        raise UnknownWorkflowError(
            f"schedule {row.name!r} runs workflow {row.workflow!r}, which this process has not "
            "imported; run this where it is (a worker, or list its module in DURABLE_MODULES)"
        )
    return row.workflow


def _printable(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _audit(
    action: str,
    name: str,
    actor: str | None,
    reason: str,
    run_ids: builtins.list[str] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    AuditEntry.objects.create(
        actor=current_actor(actor),
        action=f"schedule.{action}",
        run_ids=run_ids or [],
        detail={
            "schedule": name,
            "reason": validation.free_text("reason", reason),
            "done": {name: action},
            **(detail or {}),
        },  # fmt: skip
    )


def _audit_refusal(action: str, name: Any, actor: Any, reason: Any, exc: Exception) -> None:
    shown = str(name)[:MAX_SHOWN_NAME]
    try:
        who = current_actor(actor)
        why = validation.free_text("reason", reason or "")
    except DurableError:  # a hostile actor or reason is itself what was refused
        who, why = current_actor(None), ""
    AuditEntry.objects.create(
        actor=who,
        action=f"schedule.{action}",
        run_ids=[],
        detail={"schedule": shown, "reason": why, "refused": {shown: str(exc)}},
    )


MAX_SHOWN_NAME = 200


def _exists(name: str) -> ScheduleConflictError:
    return ScheduleConflictError(
        f"a schedule named {name!r} exists; update it, or choose another name"
    )


def _not_found(name: str) -> ScheduleNotFoundError:
    return ScheduleNotFoundError(
        f"no schedule named {str(name)[:80]!r}; `manage.py durable schedules list` shows them"
    )
