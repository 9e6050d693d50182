"""Executing a run: replaying its history, checkpointing each new step, recording the end.

Invariant: a step's checkpoint is written once, when it finishes, by the run's owner only;
a recorded step is never executed again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from durable import alerts, context, lineage, observe, queues, store
from durable.context import RecordedStep, RunContext, RunInterrupted, RunSuspended, RunTimedOut
from durable.errors import NonDeterminismError
from durable.registry import WorkflowDefinition, get_workflow
from durable.serialization import (
    dumps,
    error_to_dict,
    fingerprint,
)

logger = logging.getLogger("durable")

_finished: dict[str, threading.Event] = {}
_finished_lock = threading.Lock()


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


def execute(claimed: store.ClaimedRun, executor_id: str, cancelled: threading.Event) -> None:
    """Run a claimed run's workflow to its end, or until it is cancelled or taken over."""
    definition = get_workflow(claimed.workflow)
    run_context = RunContext(
        run_id=claimed.run_id,
        workflow=definition,
        executor_id=executor_id,
        recorded=claimed.recorded,
        cancelled=cancelled,
        deadline_at=claimed.deadline_at,
    )
    try:
        with observe.run(claimed.run_id, claimed.workflow, claimed.version, executor_id):
            _execute_claimed(run_context, definition, claimed.input)
    finally:
        notify_finished(claimed.run_id)


def _execute_claimed(
    run_context: RunContext, definition: WorkflowDefinition, run_input: dict[str, Any]
) -> None:
    token = context.activate(run_context)
    try:
        result = definition.func(*run_input.get("args", []), **run_input.get("kwargs", {}))
        if run_context.nondeterminism is not None:
            raise run_context.nondeterminism
        output = dumps(result, where=f"workflow {definition.name} run {run_context.run_id} output")
    except RunSuspended as suspended:
        store.suspend_run(run_context.run_id, run_context.executor_id, suspended.wake_at)
        return
    except RunTimedOut as timed_out:
        if lineage.cancel_timed_out(run_context.run_id, run_context.executor_id, timed_out.reason):
            logger.info("run %s %s", run_context.run_id, timed_out.reason)
        return
    except RunInterrupted:
        logger.info("run %s stopped: cancelled or taken over", run_context.run_id)
        return
    except Exception as exc:
        error = run_context.nondeterminism or exc
        _finish_with_error(run_context, error)
        return
    finally:
        context.deactivate(token)
    store.finish_run(
        run_id=run_context.run_id,
        executor_id=run_context.executor_id,
        status="SUCCESS",
        output=output,
    )


def _finish_with_error(run_context: RunContext, exc: BaseException) -> None:
    error = error_to_dict(exc)
    store.finish_run(
        run_id=run_context.run_id,
        executor_id=run_context.executor_id,
        status="ERROR",
        error=dumps(error, where="error"),
        error_type=error["type"],
        error_fingerprint=fingerprint(error["type"], error["message"]),
    )
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
    step_input: str | None = None,
    finished_at: datetime | None = None,
) -> None:
    """Checkpoint a primitive (child, sleep, send, recv, event) as an entry in the history."""
    finished_at = finished_at or datetime.now(UTC)
    written = store.record_step(
        run_id=run_context.run_id,
        executor_id=run_context.executor_id,
        position=position,
        name=name,
        kind=kind,
        status="SUCCESS",
        input=step_input,
        output=output,
        attempts=1,
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=(finished_at - started_at).total_seconds() * 1000,
    )
    if not written:
        raise RunInterrupted(run_context.run_id)


def record_child(
    run_context: RunContext, name: str, start: Callable[[str], str], run_id: str | None
) -> str:
    """Start a child run once: its id is the step's recorded output, so replays reuse it."""
    position = run_context.next_position()
    recorded: RecordedStep | None = run_context.recorded_at(position, name)
    if recorded is not None:
        return recorded.replay()["run_id"]
    run_context.check_interrupted()
    child_id = run_id or child_run_id(run_context.run_id, position)
    started_at = datetime.now(UTC)
    with transaction.atomic():
        child_id = start(child_id)  # a de-duplicated start returns the existing run
        record_entry(
            run_context,
            position,
            name,
            "child",
            dumps({"run_id": child_id}, where="child"),
            started_at,
        )
    return child_id


CHILD_SEPARATOR = "~"  # callers cannot use it (api.validate_new_run_id): no collisions
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


def wait_event(run_id: str) -> threading.Event:
    with _finished_lock:
        return _finished.setdefault(run_id, threading.Event())


def forget_event(run_id: str) -> None:
    with _finished_lock:
        _finished.pop(run_id, None)


def notify_finished(run_id: str) -> None:
    with _finished_lock:
        event = _finished.get(run_id)
    if event is not None:
        event.set()
