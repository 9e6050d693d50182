"""Executing a run: replaying its history, checkpointing each new step, recording the end.

Invariant: a step's checkpoint is written once, when it finishes, by the run's owner only;
a recorded step is never executed again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

from durable import queues
from durable.core import _async_runs as async_runs
from durable.core import _clock as clock
from durable.core import _context as context
from durable.core import _dispatch as dispatching
from durable.core import _endings as endings
from durable.core import _failure_alert as alerts
from durable.core import _history as history
from durable.core import _lineage as lineage
from durable.core import _steps as steps
from durable.core import store
from durable.core._context import (
    HistoryTally,
    RecordedStep,
    RunContext,
    RunGivenBack,
    RunInterrupted,
    RunReleased,
    RunSuspended,
    RunTimedOut,
)
from durable.core._registry import WorkflowDefinition, get_workflow
from durable.core._serialization import (
    EntryInput,
    dumps,
    error_to_dict,
    fingerprint,
)
from durable.core._validation import CHILD_SEPARATOR
from durable.core.conf import settings
from durable.core.store import _db as db
from durable.core.store._db import DatabaseUnavailable
from durable.errors import NonDeterminismError
from durable.observability import _observe as observe

T = TypeVar("T")

logger = logging.getLogger("durable")

_active: dict[str, RunContext] = {}  # runs executing in this process, for deadlines
_active_lock = threading.Lock()
_unreleased: dict[str, str] = {}  # run id -> executor id whose release is still owed


def execute_run(
    run_id: str, executor_id: str, workflows: list[str], cancelled: threading.Event
) -> bool:
    """Claim and execute one run; False if another executor had it or it was not due."""
    claimed = claim(run_id, executor_id, workflows)
    if claimed is None:
        return False
    execute(claimed, executor_id, cancelled)
    return True


def claim(run_id: str, executor_id: str, workflows: list[str]) -> store.ClaimedRun | None:
    """Take ownership of a due run; the conditional update decides between executors.

    Runs of declared limited queues are claimed within their limits (`durable.queues`).
    """
    return queues.claim(run_id, executor_id, workflows)[0]


def execute(
    claimed: store.ClaimedRun,
    executor_id: str,
    cancelled: threading.Event,
    draining: threading.Event | None = None,
) -> None:
    """Run a claimed run's workflow to its end, or until it is cancelled or taken over.

    `draining`, set by an executor that shuts down, releases the run at its next step.
    """
    definition = get_workflow(claimed.workflow)
    run_context = RunContext(
        run_id=claimed.run_id,
        workflow=definition,
        executor_id=executor_id,
        recorded=claimed.recorded,
        cancelled=cancelled,
        deadline_at=claimed.deadline_at,
        prior_attempts=claimed.prior_attempts,
        attempts_before_resume=claimed.attempts_before_resume,
        deaths=claimed.deaths,
        draining=draining,
        tally=HistoryTally(connections[DEFAULT_DB_ALIAS] if _history_empty(claimed) else None),
    )
    with _active_lock:
        _active[claimed.run_id] = run_context
    endings.began(claimed.run_id)
    try:
        with observe.run(claimed.run_id, claimed.workflow, claimed.version, executor_id):
            _execute_claimed(run_context, definition, claimed.input)
    finally:
        with _active_lock:
            if _active.get(claimed.run_id) is run_context:  # not a later re-execution's
                del _active[claimed.run_id]
        endings.ended(claimed.run_id)


def _history_empty(claimed: store.ClaimedRun) -> bool:
    """Whether the claim found no row of the run's history: no checkpoint, and no failed or
    lost attempt (at a position without a checkpoint, the claim reads every one of them)."""
    return not (claimed.recorded or claimed.prior_attempts or claimed.deaths)


def _execute_claimed(
    run_context: RunContext, definition: WorkflowDefinition, run_input: dict[str, Any]
) -> None:
    """Never lets a run stay RUNNING behind a live executor: whatever escapes the workflow
    (a long outage, a shutdown, KeyboardInterrupt or SystemExit from user code) releases it."""
    token = context.activate(run_context)
    try:
        _run_to_end(run_context, definition, run_input)
    except RunGivenBack as exc:
        give_back(run_context, str(exc.__cause__))
    except RunReleased as exc:
        release(run_context, str(exc.__cause__ or "its executor is shutting down"))
    except DatabaseUnavailable as exc:
        release(run_context, str(exc))
    except (KeyboardInterrupt, SystemExit) as exc:
        release(run_context, f"{type(exc).__name__} raised in the workflow")
        if threading.current_thread() is threading.main_thread():
            raise  # a real Ctrl-C or exit of the process: let it happen
    finally:
        context.deactivate(token)


def _run_to_end(
    run_context: RunContext, definition: WorkflowDefinition, run_input: dict[str, Any]
) -> None:
    try:
        output = _workflow_output(run_context, definition, run_input)
    except RunSuspended as suspended:
        store.suspend_run(run_context.run_id, run_context.executor_id, suspended.wake_at)
        if suspended.on_parked is not None:
            suspended.on_parked()
        return
    except RunTimedOut as timed_out:
        if lineage.cancel_timed_out(run_context.run_id, run_context.executor_id, timed_out.reason):
            logger.info("run %s %s", run_context.run_id, timed_out.reason)
        # its own thread cancelled it between steps: nothing of it is in flight, so the hold
        # the cancel left ends as this thread returns (the notice may come later, or never)
        run_context.cancelled.set()
        return
    except (RunReleased, RunGivenBack):
        raise
    except RunInterrupted:
        logger.info("run %s stopped: cancelled or taken over", run_context.run_id)
        return
    except (KeyboardInterrupt, SystemExit, DatabaseUnavailable):
        raise
    except BaseException as exc:  # noqa: BLE001 - a test framework's failure is the run's too
        error = run_context.nondeterminism or exc
        _finish_with_error(run_context, error)
        return
    _finish_with_output(run_context, output)


def _workflow_output(
    run_context: RunContext, definition: WorkflowDefinition, run_input: dict[str, Any]
) -> str:
    """The workflow's return value as stored; whatever it raises instead comes after the
    checkpoint held back for the run's end is written (core/_steps.py)."""
    try:
        result = async_runs.call(
            definition.func, run_input.get("args", []), run_input.get("kwargs", {})
        )
        if run_context.nondeterminism is not None:
            raise run_context.nondeterminism
        return dumps(result, where=f"workflow {definition.name} run {run_context.run_id} output")
    except BaseException:
        steps.write_held_back(run_context)  # the last step's checkpoint, before any ending
        raise


def _finish_with_output(run_context: RunContext, output: str) -> None:
    ended = steps.finish_with_held_back(run_context, output)  # with the last checkpoint
    if ended is not None:
        if ended:
            endings.wrote(run_context.run_id, ("SUCCESS", output, None))  # for result() here
        else:
            logger.info("run %s stopped: cancelled or taken over", run_context.run_id)
        return
    steps_done, active_ms = run_context.tally.totals()
    if store.finish_run(
        run_id=run_context.run_id,
        executor_id=run_context.executor_id,
        status="SUCCESS",
        output=output,
        steps_done=steps_done,
        active_ms=active_ms,
    ):
        endings.wrote(run_context.run_id, ("SUCCESS", output, None))  # for result() here


def release(run_context: RunContext, why: str) -> None:
    """Give the run back to the queue at once (no recovery counted), or leave it to its lease."""
    try:
        store.release_runs([run_context.run_id], run_context.executor_id)
    except Exception as exc:
        with _active_lock:
            _unreleased[run_context.run_id] = run_context.executor_id
        logger.error(
            "run %s could not be released yet (%s: %s); retried at the next heartbeat",
            run_context.run_id, why, exc,
        )  # fmt: skip
        return
    logger.info("run %s released back to the queue: %s", run_context.run_id, why)  # a hand-back


def give_back(run_context: RunContext, why: str) -> None:
    """Give up a run this executor cannot go on with (a checkpoint it cannot write): made
    recoverable at once with a recovery counted (DEAD past the limit) and dispatched again;
    if even that fails, released at the next heartbeat, never left RUNNING behind us."""
    try:
        status = store.give_back_run(
            run_context.run_id, run_context.executor_id, settings.DURABLE_MAX_RECOVERIES
        )
    except Exception as exc:
        release(run_context, f"{why}; giving it back failed too: {exc}")
        return
    logger.warning("run %s given back to recovery (%s): %s", run_context.run_id, status, why)
    if status == "ENQUEUED":
        dispatching.dispatch_on_commit(run_context.run_id)


def release_unreleased() -> None:
    """Release the runs whose release failed (the database was still down); called by the
    executors' heartbeat, which runs before another executor may judge their leases."""
    with _active_lock:
        pending = dict(_unreleased)
    for run_id, executor_id in pending.items():
        store.release_runs([run_id], executor_id)
        with _active_lock:
            _unreleased.pop(run_id, None)
        logger.warning("run %s released back to the queue after the outage", run_id)


def enforce_deadlines() -> list[str]:
    """Time out runs in flight whose deadline passed while a step runs (or hangs): end them
    CANCELLED now and tell their thread, instead of waiting for the step to return."""
    now = clock.now()
    with _active_lock:
        overdue = [
            run_context
            for run_context in _active.values()
            if run_context.deadline_at is not None
            and run_context.deadline_at <= now
            and not run_context.cancelled.is_set()
        ]
    for run_context in overdue:
        assert run_context.deadline_at is not None  # picked for its deadline above
        reason = f"timed out: its deadline {run_context.deadline_at.isoformat()} passed"
        lineage.cancel_timed_out(run_context.run_id, run_context.executor_id, reason)
        run_context.cancelled.set()
        logger.info("run %s %s while a step ran", run_context.run_id, reason)
    return [run_context.run_id for run_context in overdue]


def _finish_with_error(run_context: RunContext, exc: BaseException) -> None:
    error = error_to_dict(exc)
    error_text = dumps(error, where="error")
    steps_done, active_ms = run_context.tally.totals()
    if store.finish_run(
        run_id=run_context.run_id,
        executor_id=run_context.executor_id,
        status="ERROR",
        error=error_text,
        error_type=error["type"],
        error_fingerprint=fingerprint(error["type"], error["message"]),
        steps_done=steps_done,
        active_ms=active_ms,
    ):
        endings.wrote(run_context.run_id, ("ERROR", None, error_text))
    if not isinstance(exc, NonDeterminismError):
        logger.info("run %s failed: %s", run_context.run_id, error["message"])
    alerts.run_failed(run_context.run_id, run_context.workflow.name, error)


def record_entry(
    run_context: RunContext,
    position: int,
    name: str,
    kind: str,
    output: str,
    started_at: datetime,
    *,
    step_input: EntryInput | None = None,
    finished_at: datetime | None = None,
) -> None:
    """Checkpoint a primitive (child, sleep, send, recv, event) as an entry in the history."""
    finished_at = finished_at or clock.now()
    try:
        written = _record_entry_once(
            run_context, position, name, kind, output, started_at, step_input, finished_at
        )
    except DatabaseUnavailable as exc:
        raise RunReleased(run_context.run_id) from exc
    if written is not None:
        duration_ms = (finished_at - started_at).total_seconds() * 1000
        run_context.tally.wrote_entry(kind, "SUCCESS", duration_ms)
    run_context.stop_if_cancelled(written)


def _record_entry_once(
    run_context: RunContext,
    position: int,
    name: str,
    kind: str,
    output: str,
    started_at: datetime,
    step_input: EntryInput | None,
    finished_at: datetime,
) -> str | None:
    return store.record_step(
        run_id=run_context.run_id,
        executor_id=run_context.executor_id,
        position=position,
        name=name,
        kind=kind,
        status="SUCCESS",
        input=None if step_input is None else step_input.text,
        input_hash="" if step_input is None else step_input.hash,
        output=output,
        attempts=1,
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=(finished_at - started_at).total_seconds() * 1000,
    )


def record_child(
    run_context: RunContext,
    name: str,
    start: Callable[[str], str],
    run_id: str | None,
    child_input: EntryInput | None = None,
) -> str:
    """Start a child run once: its id is the step's recorded output, so replays reuse it."""
    return history.replay_or_run(
        run_context,
        name,
        child_input,
        lambda position: _start_child(run_context, position, name, start, run_id, child_input),
        lambda recorded: recorded.replay()["run_id"],
    )


def record_atomically(
    run_context: RunContext,
    position: int,
    body: Callable[[], T],
    replay: Callable[[RecordedStep], T],
) -> T:
    """Run `body` (a primitive's writes with its history entry) in one transaction, retried
    in place when the connection drops; a committed entry whose reply was lost is read back
    and replayed instead of written twice. The entry counts in the run's kept totals once
    the transaction commits; one found by the read-back leaves the end to sum the history."""
    tally = run_context.tally
    holding = tally.hold()
    settled = False

    def settle() -> tuple[bool, Any]:  # (False, None): not found, no value
        nonlocal settled
        recorded = store.recorded_step(run_context.run_id, position, run_context.executor_id)
        settled = recorded is not None
        return (False, None) if recorded is None else (True, replay(recorded))

    def tried() -> T:
        if holding:
            tally.hold_again()
        return body()

    what = f"run {run_context.run_id} entry {position}"
    try:
        result = db.atomic_retrying(tried, settle=settle, what=what)
    except BaseException:
        if holding:  # an on_commit hook's error comes after the commit: not known here
            tally.count_held(committed=False)
            tally.lose()
        raise
    if holding:
        tally.count_held(committed=not settled)
        if settled:
            tally.lose()
    return result


def _start_child(
    run_context: RunContext,
    position: int,
    name: str,
    start: Callable[[str], str],
    run_id: str | None,
    child_input: EntryInput | None,
) -> str:
    started_at = clock.now()

    def start_and_record() -> str:
        child_id = start(run_id or child_run_id(run_context.run_id, position))  # dedup: existing
        record_entry(
            run_context,
            position,
            name,
            "child",
            dumps({"run_id": child_id}, where="child"),
            started_at,
            step_input=child_input,
        )
        return child_id

    return record_atomically(
        run_context, position, start_and_record, lambda recorded: recorded.output["run_id"]
    )


MAX_RUN_ID = 200


def child_run_id(parent_id: str, position: int) -> str:
    """The id of the child a run starts at `position`: "parent~3", readable and unique; a
    parent id too long for that keeps its start and adds a hash of the whole ("~h<hash>")."""
    suffix = f"{CHILD_SEPARATOR}{position}"
    if len(parent_id) + len(suffix) <= MAX_RUN_ID:
        return parent_id + suffix
    digest = hashlib.sha256(parent_id.encode()).hexdigest()[:16]
    keep = MAX_RUN_ID - len(suffix) - len(digest) - 2
    return f"{parent_id[:keep]}{CHILD_SEPARATOR}h{digest}{suffix}"
