"""Operator actions: cancel, resume, restart and fork, one run or thousands at a time;
draining an executor.

Each call is audited. Given one run id, an action returns its result or raises
`OperationRefused`; given a list, it returns a `BulkResult` saying what was done and
what was refused and why. Rows are locked while they are judged, so the state an action
was decided on is the state it changed.
"""

from __future__ import annotations

import getpass
import inspect
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Min

from durable import (
    clock,
    drain,
    executors,
    lineage,
    registry,
    serving,
    store_primitives,
    validation,
)
from durable.api import validate_run_id
from durable.debugging import patching
from durable.errors import (
    InvalidArgumentError,
    InvalidRunIdError,
    OperationRefused,
    RunNotFoundError,
    SerializationError,
)
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
    """`done` maps each affected run to its resulting run (itself, or the new run);
    `cascaded` lists the children a resume brought back with their parents."""

    done: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    cascaded: list[str] = field(default_factory=list)
    # set when a `request_id` was seen before: who acted first and when (nothing was redone)
    previous: dict[str, str] | None = None

    @property
    def done_count(self) -> int:
        return len(self.done)

    @property
    def refused_count(self) -> int:
        return len(self.refused)

    def merge(self, other: BulkResult) -> None:
        self.done.update(other.done)
        self.refused.update(other.refused)
        self.cascaded.extend(other.cascaded)


Progress = Callable[[int, int], None]


def drain_executor(
    executor_id: str,
    *,
    actor: str | None = None,
    reason: str = "",
    release_after: float | None = None,
) -> None:
    """Stop an executor claiming new runs; its runs in flight finish there, or, after
    `release_after` seconds, are released to other executors. It hears at once (NOTIFY)."""
    drain.set_draining(executor_id, True, actor=current_actor(actor), reason=reason,
                       release_after=release_after)  # fmt: skip


def undrain_executor(executor_id: str, *, actor: str | None = None, reason: str = "") -> None:
    """Let a drained executor claim runs again."""
    drain.set_draining(executor_id, False, actor=current_actor(actor), reason=reason)


def cancel(
    run_ids: str | Iterable[str],
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    request_id: str | None = None,
) -> Any:
    """Stop runs at their next step boundary; their checkpoints stay."""
    validation.free_text("reason", reason)
    return _apply(
        "cancel",
        run_ids,
        actor,
        progress,
        {"reason": reason, "request_id": request_id},
        lambda batch: _cancel_batch(batch, reason),
    )


def resume(
    run_ids: str | Iterable[str],
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    request_id: str | None = None,
) -> Any:
    """Continue failed, cancelled or dead runs from their last checkpoint.

    The step that runs again gets a fresh retry budget (its attempt numbers go on); a
    recovery after an executor's death grants none.
    """
    validation.free_text("reason", reason)
    detail = {"reason": reason, "request_id": request_id}
    return _apply("resume", run_ids, actor, progress, detail, _resume_batch)


def restart(
    run_ids: str | Iterable[str],
    args: list | None = None,
    kwargs: dict | None = None,
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    request_id: str | None = None,
    unless_derived_since: datetime | None = None,
) -> Any:
    """New runs of the same workflows with the same (or edited) input; returns new ids.

    With `request_id`, a repeated call (a double click, a retry) returns the first call's
    result instead of starting more runs. With `unless_derived_since`, a run restarted or
    forked since then (by anyone) is refused, saying by whom: an operator acting on what
    they saw at that time does not repeat what another operator just did.
    """
    _check_input(args, kwargs)
    validation.free_text("reason", reason)
    detail = {"args": args, "kwargs": kwargs, "reason": reason, "request_id": request_id}
    return _apply(
        "restart",
        run_ids,
        actor,
        progress,
        detail,
        lambda batch: _derive_batch(batch, 0, args, kwargs, fork=False, since=unless_derived_since),
    )


def fork(
    run_ids: str | Iterable[str],
    from_step: int | None = None,
    args: list | None = None,
    kwargs: dict | None = None,
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    patch: dict[int, Any] | None = None,
    request_id: str | None = None,
    unless_derived_since: datetime | None = None,
) -> Any:
    """New runs reusing checkpoints 0..from_step-1 and executing from `from_step` on.

    `from_step` defaults to each run's first failed step. `patch` ({step: output}) replaces
    the reused outputs of earlier steps (`durable.debugging.patching`); `request_id` and
    `unless_derived_since` as in `restart`.
    """
    _check_input(args, kwargs)
    validation.free_text("reason", reason)
    if from_step is not None and (not isinstance(from_step, int) or isinstance(from_step, bool)):
        raise InvalidArgumentError("from_step", f"must be an int, not {from_step!r:.40}")
    detail = {"from_step": from_step, "args": args, "kwargs": kwargs, "reason": reason,
              "request_id": request_id}  # fmt: skip
    if patch:
        if not isinstance(run_ids, str):
            run_ids = _run_id_list(run_ids)
        run_ids, from_step, detail["patch"] = patching.prepare(run_ids, from_step, patch)
    return _apply(
        "fork",
        run_ids,
        actor,
        progress,
        detail,
        lambda batch: _derive_batch(
            batch, from_step, args, kwargs, fork=True, patch=patch, since=unless_derived_since
        ),
    )


def _check_input(args: Any, kwargs: Any) -> None:
    if args is not None and not isinstance(args, list | tuple):
        raise InvalidArgumentError("args", f"must be a list or None, not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise InvalidArgumentError("kwargs", f"must be a dict or None, not {type(kwargs).__name__}")


def _run_id_list(run_ids: Any) -> list[Any]:
    if isinstance(run_ids, str):
        return [run_ids]
    if isinstance(run_ids, bytes | dict) or not isinstance(run_ids, Iterable):
        raise InvalidArgumentError(
            "run_ids", f"must be a run id or a list of them, not {type(run_ids).__name__}"
        )
    items = list(run_ids)
    if all(isinstance(item, str) for item in items):
        return list(dict.fromkeys(items))
    return items  # the non-strings are refused as invalid ids below


def _apply(
    action: str,
    run_ids: str | Iterable[str],
    actor: str | None,
    progress: Progress | None,
    detail: dict[str, Any],
    handle_batch: Callable[[list[str]], BulkResult],
) -> Any:
    single = isinstance(run_ids, str)
    ids = _run_id_list(run_ids)
    validation.text("actor", actor)
    validation.text("request_id", detail.get("request_id"))
    result, valid = _invalid_ids_refused(ids, single)
    if result.refused and not valid:  # audited like every other refusal
        _audit(action, actor, [], result, detail)
    for start in range(0, len(valid), BATCH_SIZE):
        batch = valid[start : start + BATCH_SIZE]
        with transaction.atomic():
            outcome = _handle_once(action, batch, detail, handle_batch, start)
            if outcome.previous is None:
                audited = BulkResult(outcome.done, {**outcome.refused}, outcome.cascaded)
                if start == 0:  # the invalid ids' refusals go with the first batch
                    audited.refused.update(result.refused)
                _audit(action, actor, batch, audited, {**detail, "batch": start})
        result.merge(outcome)
        result.previous = result.previous or outcome.previous
        for run_id in [*outcome.done.values(), *outcome.cascaded]:
            transaction.on_commit(lambda run_id=run_id: executors.dispatch(run_id))
        if progress is not None:
            progress(min(start + BATCH_SIZE, len(valid)), len(valid))
    if not single:
        return result
    return _single_outcome(ids[0], result)


def _invalid_ids_refused(ids: list[Any], single: bool) -> tuple[BulkResult, list[str]]:
    result, valid = BulkResult(), []
    for run_id in ids:
        try:
            valid.append(validate_run_id(run_id))
        except InvalidRunIdError as exc:
            if single:
                raise
            result.refused[_printable(run_id)] = str(exc)
    return result, valid


def _printable(run_id: Any) -> str:
    """An invalid id as the audit log can hold it (no NUL, bounded)."""
    text = run_id if isinstance(run_id, str) else repr(run_id)
    return text[:200].replace("\x00", "\\x00")


def _single_outcome(run_id: str, result: BulkResult) -> str:
    if run_id in result.refused:
        if result.refused[run_id] == "no such run":
            raise RunNotFoundError(f"no run with id {run_id!r}")
        raise OperationRefused(run_id, result.refused[run_id])
    return result.done[run_id]


@lineage.retrying_deadlocks
def _handle_once(
    action: str,
    batch: list[str],
    detail: dict[str, Any],
    handle_batch: Callable[[list[str]], BulkResult],
    start: int,
) -> BulkResult:
    """Lock the batch's runs (in id order, so concurrent calls cannot deadlock: see
    `durable.lineage`), then either return what an earlier call with the same request_id
    did, or act. A deadlock across tree levels rolls the savepoint back (this lock too)
    and judges the batch again."""
    lineage.lock_runs(batch)
    request_id = detail.get("request_id")
    if request_id is not None:
        earlier = (
            AuditEntry.objects.filter(
                action=action,
                run_ids__contains=batch[:1],
                detail__request_id=request_id,
                detail__batch=start,
            )
            .order_by("id")
            .first()
        )
        if earlier is not None:
            return BulkResult(
                done=earlier.detail.get("done", {}),
                refused=earlier.detail.get("refused", {}),
                cascaded=earlier.detail.get("cascaded", []),
                previous={"actor": earlier.actor, "at": earlier.created_at.isoformat()},
            )
    return handle_batch(batch)


def _audit(
    action: str, actor: str | None, batch: list[str], outcome: BulkResult, detail: dict[str, Any]
) -> None:
    AuditEntry.objects.create(
        actor=current_actor(actor),
        action=action,
        run_ids=batch,
        detail=_storable(
            {
                **detail,
                "done": outcome.done,
                "refused": outcome.refused,
                **({"cascaded": outcome.cascaded} if outcome.cascaded else {}),
            }
        ),
    )


def _storable(detail: dict[str, Any]) -> dict[str, Any]:
    """The audit detail as JSON can hold it: an edited input that was refused for holding
    NaN, a NUL or 1e400 is kept as its repr, so the refusal is still on record."""
    try:
        dumps(detail, where="audit entry")
    except SerializationError:
        for key in ("args", "kwargs"):
            detail[key] = _safe_repr(detail.get(key))
    return detail


def _safe_repr(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return repr(value)[:2000]
    except (ValueError, RecursionError):  # an int past 4,300 digits, a deep nest
        return f"<unprintable {type(value).__name__}>"


def _locked_statuses(batch: list[str]) -> dict[str, str]:
    """Lock the batch's runs in id order (see `durable.lineage`) and read their statuses."""
    return {run_id: status for run_id, (status, _) in lineage.lock_runs(batch).items()}


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
        lineage.cancel_trees(eligible, reason or "cancelled by an operator")
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
    RETURNING s.run_id, s.position
)
UPDATE durable_run r
SET status = 'ENQUEUED', executor_id = NULL, lease_expires_at = NULL, output = NULL,
    error = NULL, error_type = '', error_fingerprint = '', cancel_reason = '',
    cancelled_with_parent = false, finished_at = NULL, recovery_count = 0,
    available_at = now(), updated_at = now(),
    -- a resume grants the step it runs again a fresh retry budget; attempt numbers go on
    attempts_before_resume = COALESCE((
        SELECT max(a.attempt) FROM durable_attempt a
        WHERE a.run_id = r.id AND a.position >= COALESCE(
            (SELECT d.position FROM dropped d WHERE d.run_id = r.id),
            (SELECT t.position + 1 FROM last_step t WHERE t.run_id = r.id), 0)), 0),
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
    """Resumed runs take along the children their cancel took down, so they can go on."""
    statuses = _locked_statuses(batch)
    eligible, result = _split(batch, statuses, RunStatus.resumable(), _resume_refusal)
    eligible = _refuse_unserved(eligible, result)
    if eligible:
        result.cascaded = lineage.lock_descendants(eligible, cascaded_only=True)
        with connection.cursor() as cursor:
            cursor.execute(RESUME_RUNS, {"run_ids": eligible + result.cascaded})
    result.done.update({run_id: run_id for run_id in eligible})
    return result


def _refuse_unserved(run_ids: list[str], result: BulkResult) -> list[str]:
    """Refuse to resume runs whose code version no executor has; offer a fork instead."""
    if not run_ids:
        return run_ids
    keys = serving.served_keys()
    runs = Run.objects.filter(id__in=run_ids).values_list("id", "workflow", "version")
    unserved = {
        run_id: reason
        for run_id, workflow, version in runs
        if (reason := serving.unserved_reason(workflow, version, keys))
    }
    for run_id, step in fork_points(list(unserved)).items():
        result.refused[run_id] = (  # no run id in it: a bulk action groups refusals by text
            f"{unserved[run_id]}; fork it onto the current code from step {step} instead "
            "(`durable fork RUN_ID --from-step N`), or deploy that version"
        )
    return [run_id for run_id in run_ids if run_id not in unserved]


def resume_blocker(run_id: str) -> tuple[str, int] | None:
    """Why resuming this run would leave it waiting forever, and the step to fork it from
    onto the current code instead; None when a resume would be picked up."""
    run = Run.objects.filter(id=run_id).values_list("workflow", "version").first()
    if run is None:
        return None
    reason = serving.unserved_reason(*run, serving.served_keys())
    return (reason, fork_points([run_id])[run_id]) if reason else None


def fork_points(run_ids: list[str]) -> dict[str, int]:
    """Where a fork continues each run as a resume would: from its trailing failed step,
    else after its last checkpoint."""
    last_steps = _last_steps(run_ids)
    points = {}
    for run_id in run_ids:
        position, status = last_steps.get(run_id, (-1, ""))
        points[run_id] = position if status == "ERROR" else position + 1
    return points


def _derive_batch(
    batch: list[str],
    from_step: int | None,
    args: list | None,
    kwargs: dict | None,
    *,
    fork: bool,
    patch: dict[int, Any] | None = None,
    since: datetime | None = None,
) -> BulkResult:
    """Restart or fork each run of a batch whose rows the caller has locked (FOR UPDATE), so
    the history read here is the history copied."""
    registry.autodiscover()  # so "the current code" is known even in a web or CLI process
    result = BulkResult()
    originals = {run.id: run for run in Run.objects.filter(id__in=batch)}
    last_steps = _last_steps(batch)
    first_failed = _first_failed_steps(batch) if fork and from_step is None else {}
    derived = _derived_since(batch, since) if since is not None else {}
    for run_id in batch:
        original = originals.get(run_id)
        step = from_step if from_step is not None else first_failed.get(run_id)
        last_position, last_status = last_steps.get(run_id, (-1, ""))
        if patch and last_position in patch:  # a patched failure is reused as a success
            last_status = "SUCCESS"
        refusal = _derive_refusal(original, derived.get(run_id), fork, step, last_position,
                                  last_status, args, kwargs)  # fmt: skip
        if refusal:
            result.refused[run_id] = refusal
            continue
        try:
            result.done[run_id] = _derive(original, step or 0, args, kwargs, patch)
        except SerializationError as exc:  # edited input with NaN, 1e400, …: nothing written
            result.refused[run_id] = f"the edited input cannot be stored: {exc}"
    return result


def _derive_refusal(
    original: Run | None,
    derived: str | None,
    fork: bool,
    step: int | None,
    last_position: int,
    last_status: str,
    args: list | None,
    kwargs: dict | None,
) -> str | None:
    if original is None:
        return "no such run"
    if derived:
        return derived
    refusal = _fork_refusal(step, last_position, last_status) if fork else None
    return refusal or _input_refusal(original, args, kwargs)


def _derived_since(batch: list[str], since: datetime) -> dict[str, str]:
    """Runs of the batch restarted or forked at or after `since`: who did it, as what."""
    newest = {}
    rows = Run.objects.filter(forked_from_id__in=batch, created_at__gte=since).order_by(
        "created_at"
    )
    for origin, new_id, created in rows.values_list("forked_from_id", "id", "created_at"):
        newest[origin] = (new_id, created)
    return {origin: _already_done(origin, *found) for origin, found in newest.items()}


def _already_done(origin: str, new_id: str, created: datetime) -> str:
    entry = (
        AuditEntry.objects.filter(run_ids__contains=[origin], action__in=["restart", "fork"])
        .order_by("-id")
        .first()
    )
    who = f"{entry.actor} {entry.action}ed" if entry else "it was restarted or forked"
    return (
        f"{who} it at {created:%H:%M:%S} UTC as run {new_id}, after you loaded the page; "
        "open that run, or reload and act again"
    )


def _last_steps(batch: list[str]) -> dict[str, tuple[int, str]]:
    """Each run's last recorded position and that checkpoint's status."""
    rows = (
        Step.objects.filter(run_id__in=batch)
        .order_by("run_id", "-position")
        .distinct("run_id")
        .values_list("run_id", "position", "status")
    )
    return {run_id: (position, status) for run_id, position, status in rows}


def _first_failed_steps(batch: list[str]) -> dict[str, int]:
    rows = (
        Step.objects.filter(run_id__in=batch, status="ERROR")
        .values_list("run_id")
        .annotate(Min("position"))
    )
    return dict(rows)


def _fork_refusal(step: int | None, last_position: int, last_status: str) -> str | None:
    """A fork may reuse a failed checkpoint the workflow went on from (it caught the error),
    never the one that ended the run: the fork would only fail again at once."""
    steps_recorded = last_position + 1
    if step is None:
        return "it has no failed step; choose the step to fork from (from_step)"
    if not isinstance(step, int) or step < 0:
        return f"from_step must be a step number from 0 to {steps_recorded}, not {step!r}"
    if last_status == "ERROR" and step > last_position:
        return (
            f"step {last_position} failed and ended the run, so a fork from step {step} would "
            f"replay that failure; fork from a step between 0 and {last_position}"
        )
    if step > steps_recorded:
        return (
            f"it never reached step {step} (it recorded {steps_recorded} step(s)); "
            f"fork from a step between 0 and {steps_recorded}"
        )
    return None


def _input_refusal(original: Run, args: list | None, kwargs: dict | None) -> str | None:
    """The (edited) input must fit the current workflow's parameters, or the new run
    fails at once; a workflow this process does not know is left to its executor."""
    if not is_registered(original.workflow):
        return None
    func = get_workflow(original.workflow).func
    edited = args is not None or kwargs is not None
    run_input = original.input or {}
    args = list(run_input.get("args", [])) if args is None else args
    kwargs = dict(run_input.get("kwargs", {})) if kwargs is None else kwargs
    try:
        inspect.signature(func).bind(*args, **kwargs)
    except TypeError as exc:
        return (
            f"the {'edited ' if edited else ''}input does not fit "
            f"{original.workflow}{inspect.signature(func)}: {exc}; edit the args and kwargs "
            "to match"
        )
    return None


COPY_CHECKPOINTS = """
-- copy_checkpoints --
-- A fork inherits its origin's checkpoints before the fork point, so they are not re-run
INSERT INTO durable_step (
    run_id, position, name, kind, status, input, input_hash, output, error, error_type,
    error_fingerprint, attempts, started_at, finished_at, duration_ms, patched)
SELECT %(new_id)s, position, name, kind, status, input,
       -- with edited input, the copied steps' inputs may differ by design: not checked
       CASE WHEN %(same_input)s THEN input_hash ELSE '' END, output, error, error_type,
       error_fingerprint, attempts, started_at, finished_at, duration_ms, patched
FROM durable_step WHERE run_id = %(origin_id)s AND position < %(from_step)s
"""


COPY_MESSAGES = """
-- copy_messages --
-- A new run gets the messages its origin got: consumed where a copied recv consumed them,
-- waiting where its own recv will run again (or its origin's never did)
INSERT INTO durable_message (run_id, topic, payload, created_at, consumed_at, consumed_position)
SELECT %(new_id)s, topic, payload, created_at,
       CASE WHEN consumed_position < %(from_step)s THEN consumed_at END,
       CASE WHEN consumed_position < %(from_step)s THEN consumed_position END
FROM durable_message WHERE run_id = %(origin_id)s
ORDER BY id
"""

COPIED_EVENTS = """
-- copied_events --
-- The events the copied set_event entries published, in the order they published them
SELECT input::text, output::text FROM durable_step
WHERE run_id = %(new_id)s AND kind = 'set_event' AND position < %(from_step)s
ORDER BY position
"""


def _derive(
    original: Run,
    from_step: int,
    args: list | None,
    kwargs: dict | None,
    patch: dict[int, Any] | None = None,
) -> str:
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
        max_recoveries=original.max_recoveries,
    )
    params = {
        "new_id": new_id,
        "origin_id": original.id,
        "from_step": from_step,
        "same_input": args is None and kwargs is None,  # edited input: inputs not checked
    }
    with connection.cursor() as cursor:
        cursor.execute(COPY_MESSAGES, params)
    if from_step:
        with connection.cursor() as cursor:
            cursor.execute(COPY_CHECKPOINTS, params)
            cursor.execute(COPIED_EVENTS, params)
            events = cursor.fetchall()
        for entry_input, value in events:  # in order, so the newest value per key wins
            store_primitives.set_event(new_id, json.loads(entry_input)["key"], value)
        if patch:
            patching.apply(new_id, patch)
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
    return json.loads(dumps(value, where=where))
