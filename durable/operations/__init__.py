"""Operator actions: cancel, resume, hold, release, restart, fork and delete, one run or
thousands at a time; draining an executor.

Each call is audited. Given one run id, an action returns its result or raises
`OperationRefused`; given a list, it returns a `BulkResult` saying what was done and
what was refused and why. Rows are locked while they are judged, so the state an action
was decided on is the state it changed.

This module is the public face; the work is done in `_batches` (batches, locks, request
ids, audit), `_resuming` (cancel, resume), `_holding` (hold, release),
`_cancel_confirmation` (a cancel's stop, confirmed by the executors), `_deriving`
(restart, fork) and `_deletion` (delete). The argument rules are public too
(`validate_run_id`, `validate_new_run_id`, `MAX_TIMEOUT_SECONDS`), so a form can refuse
what an action would.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from durable.core import _validation as validation
from durable.core._audit import acting_as, current_actor
from durable.core._validation import MAX_TIMEOUT_SECONDS, validate_new_run_id, validate_run_id
from durable.core.conf import settings
from durable.errors import InvalidArgumentError, InvalidRunIdError
from durable.operations import _deletion as deletion
from durable.operations import _drain as drain
from durable.operations import _jobs as jobs
from durable.operations import _patching as patching
from durable.operations._batches import (
    BATCH_SIZE,
    BulkResult,
    Progress,
    apply,
    run_id_list,
)
from durable.operations._cancel_confirmation import confirm_stopped
from durable.operations._deaths import Death, run_deaths
from durable.operations._deriving import check_input, derive_batch, fork_points, fork_refusals
from durable.operations._holding import hold_batch, release_batch
from durable.operations._new_runs import new_run_options
from durable.operations._requeue import requeue_batch
from durable.operations._resuming import (
    cancel_batch,
    resume_batch,
    resume_blocker,
    wait_for_stops,
)
from durable.operations._superseded import successors
from durable.operations._superseded import superseded as superseded_runs
from durable.queues import Queue

__all__ = [
    "BATCH_SIZE",
    "MAX_TIMEOUT_SECONDS",
    "BulkResult",
    "CancelledRun",
    "Death",
    "RUN_FIRST",
    "Progress",
    "abort_job",
    "acting_as",
    "cancel",
    "confirm_stopped",
    "current_actor",
    "delete",
    "drain_executor",
    "fork",
    "fork_points",
    "fork_refusals",
    "get_job",
    "hold",
    "JOB_WORKFLOW",
    "list_jobs",
    "pause_job",
    "move",
    "prioritize",
    "release",
    "restart",
    "resume",
    "resume_blocker",
    "resume_job",
    "start_bulk_job",
    "run_deaths",
    "successors",
    "superseded_runs",
    "undrain_executor",
    "validate_new_run_id",
    "validate_run_id",
]


def drain_executor(
    executor_id: str,
    *,
    actor: str | None = None,
    reason: str = "",
    release_after: float | None = None,
) -> None:
    """Stop an executor claiming new runs; its runs in flight finish there. With
    `release_after`, those still in flight after that many seconds are released then,
    mid-step: another executor takes each from its last checkpoint, so the step in flight
    runs again there (the drained executor's checkpoint of it is refused). It hears at once
    (NOTIFY)."""
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
    children: bool = True,
) -> Any:
    """Stop runs: when this returns, no further step of them starts (a step in flight
    keeps its checkpoint), or the result says which runs' executors did not confirm it in
    time (`BulkResult.unconfirmed`; for one id, `CancelledRun.unconfirmed`). Their
    checkpoints stay. Their children are cancelled too, unless `children=False`: then
    they go on, and a resume of the parent replays their results."""
    validation.free_text("reason", reason)
    if not isinstance(children, bool):
        raise InvalidArgumentError("children", f"must be True or False, not {children!r:.40}")
    detail = {
        "reason": reason,
        "request_id": request_id,
        **({} if children else {"children": False}),
    }
    cancelled: list[str] = []
    result = apply(
        "cancel",
        run_ids,
        actor,
        progress,
        detail,
        lambda batch: cancel_batch(batch, reason, children, cancelled),
    )
    unconfirmed = confirm_stopped(cancelled)
    if isinstance(result, BulkResult):
        result.unconfirmed = unconfirmed
        return result
    return CancelledRun(result, unconfirmed)


def _once(run_ids: str | Iterable[str]) -> str | list[str]:
    """One id, or the ids as a list: an iterator is read once, here, and not consumed by a
    check before the action sees it."""
    return run_ids if isinstance(run_ids, str) else run_id_list(run_ids)


class CancelledRun(str):
    """What `cancel(one_id)` returns: the run's id, with `unconfirmed`, the runs of its
    tree whose executor did not confirm the stop in time, each with why (empty: all did)."""

    unconfirmed: dict[str, str]

    def __new__(cls, run_id: str, unconfirmed: dict[str, str]) -> CancelledRun:
        cancelled = super().__new__(cls, run_id)
        cancelled.unconfirmed = unconfirmed
        return cancelled


def _well_formed(run_id: Any) -> bool:
    """A run id the database can be asked about; `apply` refuses the others with why."""
    try:
        validation.validate_run_id(run_id)
    except InvalidRunIdError:
        return False
    return True


def resume(
    run_ids: str | Iterable[str],
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    request_id: str | None = None,
    unless_derived_since: datetime | None = None,
) -> Any:
    """Continue failed, cancelled or dead runs from their last checkpoint.

    The step that runs again gets a fresh retry budget (its attempt numbers go on); a
    recovery after an executor's death grants none. A run cancelled while a step ran is
    resumed once that step has returned (it keeps its checkpoint): this waits for it up to
    DURABLE_CANCEL_CONFIRM_SECONDS, then refuses the run, lest the step run twice. With
    `unless_derived_since` (when the operator looked), a run restarted or forked since is
    refused, saying by whom, as `restart` refuses it.
    """
    validation.free_text("reason", reason)
    detail = {"reason": reason, "request_id": request_id}
    run_ids = _once(run_ids)
    wait_for_stops(
        [run_id for run_id in run_id_list(run_ids) if _well_formed(run_id)],
        settings.DURABLE_CANCEL_CONFIRM_SECONDS,
    )
    return apply(
        "resume", run_ids, actor, progress, detail,
        lambda batch: resume_batch(batch, since=unless_derived_since),
    )  # fmt: skip


def hold(
    run_ids: str | Iterable[str],
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    request_id: str | None = None,
) -> Any:
    """Hold enqueued or running runs: no executor claims them, and a running one stops at
    its next step boundary (the step in flight keeps its checkpoint) and waits, ENQUEUED
    and held, until `release`. Finished runs and runs held already are refused."""
    validation.free_text("reason", reason)
    detail = {"reason": reason, "request_id": request_id}
    return apply(
        "hold", run_ids, actor, progress, detail, lambda batch: hold_batch(batch, reason),
        dispatch=False,
    )  # fmt: skip


def release(
    run_ids: str | Iterable[str],
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    request_id: str | None = None,
) -> Any:
    """Let held runs go on from where they stopped; runs that are not held are refused."""
    validation.free_text("reason", reason)
    detail = {"reason": reason, "request_id": request_id}
    return apply("release", run_ids, actor, progress, detail, release_batch)


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
    new_run_id: str | None = None,
    queue: str | Queue | None = None,
    timeout: float | None = None,
    include_superseded: bool = True,
    priority: int | None = None,
) -> Any:
    """New runs of the same workflows with the same (or edited) input; returns new ids.

    With `request_id`, a repeated call (a double click, a retry) returns the first call's
    result instead of starting more runs. With `unless_derived_since`, a run restarted or
    forked since then (by anyone) is refused, saying by whom: an operator acting on what
    they saw at that time does not repeat what another operator just did. `new_run_id`
    (one run only; refused if taken), `queue`, `timeout` (seconds) and `priority` (RUN_FIRST
    jumps the queue's backlog) choose the new run's. With `include_superseded=False`, runs
    already restarted or forked are skipped and listed in the result's `skipped` (one run
    alone is refused, saying by which run).
    """
    check_input(args, kwargs)
    if not isinstance(include_superseded, bool):
        raise InvalidArgumentError("include_superseded", "must be True or False")
    validation.free_text("reason", reason)
    run_ids = _once(run_ids)
    options = new_run_options(run_ids, new_run_id, queue, timeout, priority)
    detail = {"args": args, "kwargs": kwargs, "reason": reason, "request_id": request_id,
              **options.audit()}  # fmt: skip
    if not include_superseded:
        detail["include_superseded"] = False

    def restart_batch(batch: list[str]) -> BulkResult:
        return derive_batch(batch, 0, args, kwargs, fork=False, since=unless_derived_since,
                            options=options, include_superseded=include_superseded)  # fmt: skip

    return apply("restart", run_ids, actor, progress, detail, restart_batch)


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
    new_run_id: str | None = None,
    queue: str | Queue | None = None,
    timeout: float | None = None,
    priority: int | None = None,
) -> Any:
    """New runs reusing checkpoints 0..from_step-1 and executing from `from_step` on.

    `from_step` defaults to each run's first failed step. `patch` ({step: output}) replaces
    the reused outputs of earlier steps (`durable.operations._patching`); `request_id`,
    `unless_derived_since`, `new_run_id`, `queue`, `timeout` and `priority` as in `restart`.
    """
    check_input(args, kwargs)
    validation.free_text("reason", reason)
    run_ids = _once(run_ids)
    options = new_run_options(run_ids, new_run_id, queue, timeout, priority)
    if from_step is not None and (not isinstance(from_step, int) or isinstance(from_step, bool)):
        raise InvalidArgumentError("from_step", f"must be an int, not {from_step!r:.40}")
    detail = {"from_step": from_step, "args": args, "kwargs": kwargs, "reason": reason,
              "request_id": request_id, **options.audit()}  # fmt: skip
    if patch:
        patch = patching.normalized(patch)  # {"2": …} as JSON and forms give it is {2: …}
        run_ids, from_step, detail["patch"] = patching.prepare(run_ids, from_step, patch)
    return apply(
        "fork",
        run_ids,
        actor,
        progress,
        detail,
        lambda batch: derive_batch(
            batch,
            from_step,
            args,
            kwargs,
            fork=True,
            patch=patch,
            since=unless_derived_since,
            options=options,
        ),
    )


RUN_FIRST = validation.INT32[1]  # the highest priority: "run first"


def move(
    run_ids: str | Iterable[str],
    queue: str | Queue,
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    request_id: str | None = None,
) -> Any:
    """Move enqueued runs to another queue; its limits and order apply from their next
    claim (a way out for a run held behind a full queue)."""
    name = queue.name if isinstance(queue, Queue) else validation.text("queue", queue)
    if not name:
        raise InvalidArgumentError("queue", "name the queue to move the runs to")
    validation.free_text("reason", reason)
    detail = {"queue": name, "reason": reason, "request_id": request_id}
    return apply("move", run_ids, actor, progress, detail,
                 lambda batch: requeue_batch(batch, name, None))  # fmt: skip


def prioritize(
    run_ids: str | Iterable[str],
    priority: int = RUN_FIRST,
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    request_id: str | None = None,
) -> Any:
    """Give enqueued runs a priority (default: the highest, so claims take them first
    where the queue orders by priority: the plain claim always does, a limited queue when
    declared with priority=True)."""
    validation.priority(priority)
    validation.free_text("reason", reason)
    return apply("prioritize", run_ids, actor, progress,
                 {"priority": priority, "reason": reason, "request_id": request_id},
                 lambda batch: requeue_batch(batch, None, priority))  # fmt: skip


def delete(
    run_ids: str | Iterable[str],
    *,
    actor: str | None = None,
    reason: str = "",
    progress: Progress | None = None,
    request_id: str | None = None,
) -> Any:
    """Delete finished runs with their descendants and everything recorded for them (the
        audit log keeps who did it). Refused for unfinished runs, runs with an unfinished
        descendant and children of a kept parent; a named run in a named run's tree goes with
    it (`durable.operations._deletion`)."""
    validation.free_text("reason", reason)
    detail = {"reason": reason, "request_id": request_id}
    return apply("delete", run_ids, actor, progress, detail, _delete_batch, dispatch=False,
                 batches=deletion.tree_batches)  # fmt: skip


def _delete_batch(batch: list[str]) -> BulkResult:
    deleted = deletion.delete_batch(batch)
    done = {run_id: run_id for run_id in deleted.done}
    return BulkResult(done, deleted.refused, deleted.descendants)


start_bulk_job = jobs.start  # the public name of `_jobs.start`
JOB_WORKFLOW = jobs.WORKFLOW  # the internal workflow whose runs carry out bulk jobs


def get_job(job_id: str) -> jobs.BulkJob:
    """One bulk job by id (raises JobNotFoundError, naming how to list them)."""
    return jobs.get(job_id)


def list_jobs(limit: int = 50) -> list[jobs.BulkJob]:
    """The newest bulk jobs first."""
    return list(jobs.BulkJob.objects.all()[: max(1, min(int(limit), 1000))])


def pause_job(job_id: str, *, actor: str | None = None, reason: str = "") -> jobs.BulkJob:
    """Stop a job after its batch in flight; `resume_job` continues it where it was."""
    return jobs.control(job_id, "pause", actor, reason)


def resume_job(job_id: str, *, actor: str | None = None, reason: str = "") -> jobs.BulkJob:
    return jobs.control(job_id, "resume", actor, reason)


def abort_job(job_id: str, *, actor: str | None = None, reason: str = "") -> jobs.BulkJob:
    """End a job for good; the runs it already changed stay changed."""
    return jobs.control(job_id, "abort", actor, reason)


def _job_restart(batch: list[str], reason: str, request_id: str, job: jobs.BulkJob) -> Any:
    return restart(batch, reason=reason, request_id=request_id,
                   unless_derived_since=job.as_of or job.created_at,
                   include_superseded=job.include_superseded)  # fmt: skip


def _job_fork(batch: list[str], reason: str, request_id: str, job: jobs.BulkJob) -> Any:
    return fork(batch, reason=reason, request_id=request_id,
                unless_derived_since=job.as_of or job.created_at)  # fmt: skip


jobs.ACTIONS.update(
    cancel=lambda batch, reason, request_id, _job: cancel(
        batch, reason=reason, request_id=request_id),
    resume=lambda batch, reason, request_id, _job: resume(
        batch, reason=reason, request_id=request_id),
    hold=lambda batch, reason, request_id, _job: hold(
        batch, reason=reason, request_id=request_id),
    release=lambda batch, reason, request_id, _job: release(
        batch, reason=reason, request_id=request_id),
    restart=_job_restart,
    fork=_job_fork,
)  # fmt: skip
from durable.operations import _job_workflow  # noqa: E402, F401  (registers durable.bulk_job)
