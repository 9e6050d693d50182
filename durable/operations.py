"""Operator actions: cancel, resume, restart and fork, one run or thousands at a time.

Each call is audited. Given one run id, an action returns its result or raises
`OperationRefused`; given a list, it returns a `BulkResult` saying what was done and
what was refused and why. Rows are locked while they are judged, so the state an action
was decided on is the state it changed.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min

from durable import clock, executors, registry, store
from durable.api import validate_run_id
from durable.errors import InvalidRunIdError, OperationRefused, RunNotFoundError
from durable.models import AuditEntry, Run, RunStatus, Step
from durable.registry import get_workflow, is_registered
from durable.serialization import dumps

BATCH_SIZE = 500

_actor: ContextVar[str | None] = ContextVar("durable_actor", default=None)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Attribute the operations inside the block to `actor` in the audit log."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor(actor: str | None = None) -> str:
    if actor:
        return actor
    return _actor.get() or f"system:{_os_user()}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


@dataclass
class BulkResult:
    """`done` maps each affected run to its resulting run (itself, or the new run)."""

    done: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def done_count(self) -> int:
        return len(self.done)

    @property
    def refused_count(self) -> int:
        return len(self.refused)

    def merge(self, other: BulkResult) -> None:
        self.done.update(other.done)
        self.refused.update(other.refused)


Progress = Callable[[int, int], None]


def cancel(
    run_ids: str | Iterable[str],
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
) -> Any:
    """Stop runs at their next step boundary; their checkpoints stay."""
    return _apply(
        "cancel",
        run_ids,
        actor,
        progress,
        {"reason": reason},
        lambda batch: _cancel_batch(batch, reason),
    )


def resume(
    run_ids: str | Iterable[str], *, actor: str | None = None, progress: Progress | None = None
) -> Any:
    """Continue failed, cancelled or dead runs from their last checkpoint."""
    return _apply("resume", run_ids, actor, progress, {}, _resume_batch)


def restart(
    run_ids: str | Iterable[str],
    args: list | None = None,
    kwargs: dict | None = None,
    *,
    actor: str | None = None,
    progress: Progress | None = None,
) -> Any:
    """New runs of the same workflows with the same (or edited) input; returns new ids."""
    detail = {"args": args, "kwargs": kwargs}
    return _apply(
        "restart",
        run_ids,
        actor,
        progress,
        detail,
        lambda batch: _derive_batch(batch, 0, args, kwargs, fork=False),
    )


def fork(
    run_ids: str | Iterable[str],
    from_step: int | None = None,
    args: list | None = None,
    kwargs: dict | None = None,
    *,
    actor: str | None = None,
    progress: Progress | None = None,
) -> Any:
    """New runs reusing checkpoints 0..from_step-1 and executing from `from_step` on.

    `from_step` defaults to each run's first failed step.
    """
    detail = {"from_step": from_step, "args": args, "kwargs": kwargs}
    return _apply(
        "fork",
        run_ids,
        actor,
        progress,
        detail,
        lambda batch: _derive_batch(batch, from_step, args, kwargs, fork=True),
    )


def _apply(
    action: str,
    run_ids: str | Iterable[str],
    actor: str | None,
    progress: Progress | None,
    detail: dict[str, Any],
    handle_batch: Callable[[list[str]], BulkResult],
) -> Any:
    single = isinstance(run_ids, str)
    ids = list(dict.fromkeys([run_ids] if single else run_ids))
    result = BulkResult()
    valid = []
    for run_id in ids:
        try:
            valid.append(validate_run_id(run_id))
        except InvalidRunIdError as exc:
            if single:
                raise
            result.refused[str(run_id)[:200]] = str(exc)
    for start in range(0, len(valid), BATCH_SIZE):
        batch = valid[start : start + BATCH_SIZE]
        with transaction.atomic():
            outcome = handle_batch(batch)
            _audit(action, actor, batch, outcome, detail)
        result.merge(outcome)
        for run_id in outcome.done.values():
            transaction.on_commit(lambda run_id=run_id: executors.dispatch(run_id))
        if progress is not None:
            progress(min(start + BATCH_SIZE, len(valid)), len(valid))
    if not single:
        return result
    run_id = ids[0]
    if run_id in result.refused:
        if result.refused[run_id] == "no such run":
            raise RunNotFoundError(f"no run with id {run_id!r}")
        raise OperationRefused(run_id, result.refused[run_id])
    return result.done[run_id]


def _audit(
    action: str, actor: str | None, batch: list[str], outcome: BulkResult, detail: dict[str, Any]
) -> None:
    AuditEntry.objects.create(
        actor=current_actor(actor),
        action=action,
        run_ids=batch,
        detail={**detail, "done": outcome.done, "refused": outcome.refused},
    )


def _locked_statuses(batch: list[str]) -> dict[str, str]:
    rows = Run.objects.select_for_update().filter(id__in=batch).values_list("id", "status")
    return dict(rows)


def _split(
    batch: list[str],
    statuses: dict[str, str],
    allowed: tuple[str, ...],
    refusal: Callable[[str], str],
) -> tuple[list[str], BulkResult]:
    result = BulkResult()
    eligible = []
    for run_id in batch:
        status = statuses.get(run_id)
        if status is None:
            result.refused[run_id] = "no such run"
        elif status in allowed:
            eligible.append(run_id)
        else:
            result.refused[run_id] = refusal(status)
    return eligible, result


def _cancel_batch(batch: list[str], reason: str) -> BulkResult:
    statuses = _locked_statuses(batch)
    eligible, result = _split(
        batch,
        statuses,
        RunStatus.active(),
        lambda status: f"it is {status}; only enqueued or running runs can be cancelled",
    )
    if eligible:  # children go with their parents
        store.cancel_tree(eligible, reason or "cancelled by an operator")
    result.done.update({run_id: run_id for run_id in eligible})
    return result


def _resume_refusal(status: str) -> str:
    if status == RunStatus.SUCCESS:
        return "it already succeeded; restart it to run it again"
    return f"it is {status}; only failed, cancelled or dead runs can be resumed"


RESUME_RUNS = """
-- resume_runs --
-- Drop each run's trailing failed checkpoint (its error stays in durable_attempt) so that
-- step runs again, then put the runs back in line
WITH last_step AS (
    SELECT run_id, max(position) AS position FROM durable_step
    WHERE run_id = ANY(%(run_ids)s) GROUP BY run_id
), dropped AS (
    DELETE FROM durable_step s USING last_step t
    WHERE s.run_id = t.run_id AND s.position = t.position AND s.status = 'ERROR'
    RETURNING s.run_id
)
UPDATE durable_run r
SET status = 'ENQUEUED', executor_id = NULL, lease_expires_at = NULL, output = NULL,
    error = NULL, error_type = '', error_fingerprint = '', cancel_reason = '',
    finished_at = NULL, recovery_count = 0, available_at = now(), updated_at = now(),
    steps_done = r.steps_done - (SELECT count(*) FROM dropped d WHERE d.run_id = r.id),
    -- a run-level timeout starts again: the resumed run gets as long as the first one had
    deadline_at = now() + (r.deadline_at - r.created_at),
    -- keep the de-duplication id unless another active run holds it by now
    dedup_id = CASE WHEN EXISTS (
        SELECT 1 FROM durable_run other
        WHERE other.queue = r.queue AND other.dedup_id = r.dedup_id AND other.id <> r.id
          AND other.status IN ('ENQUEUED', 'RUNNING')) THEN NULL ELSE r.dedup_id END
WHERE r.id = ANY(%(run_ids)s)
"""


def _resume_batch(batch: list[str]) -> BulkResult:
    statuses = _locked_statuses(batch)
    eligible, result = _split(batch, statuses, RunStatus.resumable(), _resume_refusal)
    if eligible:
        with connection.cursor() as cursor:
            cursor.execute(RESUME_RUNS, {"run_ids": eligible})
    result.done.update({run_id: run_id for run_id in eligible})
    return result


def _derive_batch(
    batch: list[str], from_step: int | None, args: list | None, kwargs: dict | None, *, fork: bool
) -> BulkResult:
    registry.autodiscover()  # so "the current code" is known even in a web or CLI process
    result = BulkResult()
    originals = {run.id: run for run in Run.objects.filter(id__in=batch)}
    reached = dict(
        Step.objects.filter(run_id__in=batch).values_list("run_id").annotate(Max("position"))
    )
    first_failed = _first_failed_steps(batch) if fork and from_step is None else {}
    for run_id in batch:
        original = originals.get(run_id)
        if original is None:
            result.refused[run_id] = "no such run"
            continue
        steps_recorded = reached.get(run_id, -1) + 1
        step = from_step if from_step is not None else first_failed.get(run_id)
        refusal = _fork_refusal(step, steps_recorded) if fork else None
        if refusal:
            result.refused[run_id] = refusal
            continue
        result.done[run_id] = _derive(original, step or 0, args, kwargs)
    return result


def _first_failed_steps(batch: list[str]) -> dict[str, int]:
    rows = (
        Step.objects.filter(run_id__in=batch, status="ERROR")
        .values_list("run_id")
        .annotate(Min("position"))
    )
    return dict(rows)


def _fork_refusal(step: int | None, steps_recorded: int) -> str | None:
    if step is None:
        return "it has no failed step; choose the step to fork from (from_step)"
    if not isinstance(step, int) or step < 0:
        return f"from_step must be a step number from 0 to {steps_recorded}, not {step!r}"
    if step > steps_recorded:
        return (
            f"it never reached step {step} (it recorded {steps_recorded} step(s)); "
            f"fork from a step between 0 and {steps_recorded}"
        )
    return None


COPY_CHECKPOINTS = """
-- copy_checkpoints --
-- A fork inherits its origin's checkpoints before the fork point, so they are not re-run
INSERT INTO durable_step (
    run_id, position, name, kind, status, input, output, error, error_type,
    error_fingerprint, attempts, started_at, finished_at, duration_ms)
SELECT %(new_id)s, position, name, kind, status, input, output, error, error_type,
       error_fingerprint, attempts, started_at, finished_at, duration_ms
FROM durable_step WHERE run_id = %(origin_id)s AND position < %(from_step)s
"""


def _derive(original: Run, from_step: int, args: list | None, kwargs: dict | None) -> str:
    new_id = uuid.uuid4().hex
    run_input = dict(original.input or {})
    if args is not None:
        run_input["args"] = list(args)
    if kwargs is not None:
        run_input["kwargs"] = dict(kwargs)
    where = f"workflow {original.workflow} run {new_id} input"
    version = (
        get_workflow(original.workflow).version
        if is_registered(original.workflow)
        else original.version
    )
    Run.objects.create(
        id=new_id,
        workflow=original.workflow,
        version=version,
        status=RunStatus.ENQUEUED,
        input=_checked_json(run_input, where),
        tags=original.tags,
        queue=original.queue,
        priority=original.priority,
        forked_from=original,
        forked_from_step=from_step,
        steps_done=from_step,
        deadline_at=_new_deadline(original),
    )
    if from_step:
        with connection.cursor() as cursor:
            cursor.execute(
                COPY_CHECKPOINTS,
                {"new_id": new_id, "origin_id": original.id, "from_step": from_step},
            )
    return new_id


def _new_deadline(original: Run) -> datetime | None:
    """A new run gets the run-level timeout its workflow has now (else the original's)."""
    timeout = get_workflow(original.workflow).timeout if is_registered(original.workflow) else None
    if timeout is not None:
        return clock.deadline(timeout)
    if original.deadline_at is None:
        return None
    return clock.now() + (original.deadline_at - original.created_at)


def _checked_json(value: Any, where: str) -> Any:
    import json

    return json.loads(dumps(value, where=where))
