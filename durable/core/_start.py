"""Starting runs and getting handles to them: the calls application code makes."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from durable import executors, queues
from durable.core import _clock as clock
from durable.core import _context as context
from durable.core import _delays as delays
from durable.core import _runtime as runtime
from durable.core import _validation as validation
from durable.core import store
from durable.core._context import RunInterrupted, RunSuspended
from durable.core._registry import WorkflowDefinition, get_workflow
from durable.core._serialization import dumps, entry_input, error_from_dict
from durable.core.conf import settings
from durable.errors import (
    InvalidRunIdError,
    ResultTimeoutError,
    RunCancelledError,
    RunDeadError,
    RunIdConflictError,
    RunNotFoundError,
)
from durable.primitives import _children as waits
from durable.queues import Queue, queue_name

# "~" appears only in the ids the engine derives for child runs (runtime.child_run_id)
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=~-]{0,199}")


DOT_SEGMENTS = frozenset({".", ".."})


def validate_run_id(run_id: Any) -> str:
    """Any existing run's id, a child's included: 1-200 URL-safe characters, and no
    `/`-separated part is `.` or `..` (a browser would resolve `a/../b` to `b`, so such an
    id could open another run's page)."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise InvalidRunIdError(
            f"invalid run id {str(run_id)[:80]!r}: use 1-200 characters of letters, digits and "
            "._:@/+=- starting with a letter or digit (e.g. 'order-42')"
        )
    if DOT_SEGMENTS.intersection(run_id.split("/")):
        raise InvalidRunIdError(
            f"invalid run id {run_id[:80]!r}: a part between slashes cannot be '.' or '..' "
            "(browsers resolve them as paths); use e.g. 'batch-7/order-42'"
        )
    return run_id


def validate_new_run_id(run_id: Any) -> str:
    """An id a caller chooses for a new run: never one the engine may give a child."""
    validate_run_id(run_id)
    if runtime.CHILD_SEPARATOR in run_id:
        raise InvalidRunIdError(
            f"invalid run id {run_id[:80]!r}: {runtime.CHILD_SEPARATOR!r} is reserved for the "
            "ids of child runs; use letters, digits and ._:@/+=- (e.g. 'order-42')"
        )
    return run_id


def resolve(workflow: Callable[..., Any] | str) -> WorkflowDefinition:
    """The definition behind a decorated function or a registered name."""
    definition = getattr(workflow, "__durable_workflow__", None)
    if definition is not None:
        return definition
    if isinstance(workflow, str):
        return get_workflow(workflow)
    raise TypeError(
        f"{workflow!r} is not a durable workflow; decorate it with @durable.workflow() "
        "or pass a registered workflow name"
    )


class RunHandle:
    """A reference to a run; every method reads the run's current state from the database."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"RunHandle({self.run_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunHandle) and other.run_id == self.run_id

    def __hash__(self) -> int:
        return hash(self.run_id)

    def children(self) -> list[RunHandle]:
        """Handles of the runs this run started, oldest first."""
        return [RunHandle(child_id) for child_id in store.children(self.run_id)]

    def steps(self) -> list[Any]:
        """The run's history: `durable.core._introspection.StepInfo` records, by position."""
        from durable.core._introspection import list_steps

        return list_steps(self.run_id)

    def status(self) -> str:
        outcome = store.run_outcome(self.run_id)
        if outcome is None:
            raise RunNotFoundError(f"no run with id {self.run_id!r}")
        return outcome[0]

    @context.plain_in_async_steps
    def result(self, timeout: float | None = None) -> Any:
        """Wait for the run to end; return its output or raise its error.

        Inside a workflow (waiting for a child) a long wait parks the waiting run instead of
        holding an executor thread, so parents cannot starve their own children of threads.
        """
        waiter = context.current()
        if waiter is not None and not waiter.in_step:
            if timeout is not None:
                return waits.result_with_deadline(waiter, self.run_id, timeout)
            return self._result_in_workflow(waiter)
        deadline = None if timeout is None else time.monotonic() + timeout
        event = runtime.wait_event(self.run_id)
        interval = 0.005
        try:
            while True:
                ended, status, value = self._outcome()
                if ended:
                    return value
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise ResultTimeoutError(
                        f"run {self.run_id} is still {status} after {timeout}s; it goes on — "
                        "call result() again or check its status later"
                    )
                event.wait(interval if remaining is None else min(interval, remaining))
                event.clear()
                interval = min(interval * 1.5, 0.25)
        finally:
            runtime.forget_event(self.run_id)

    async def result_async(self, timeout: float | None = None) -> Any:
        """`result()`, awaitable: for async workflows and async views
        (durable.primitives._async_api)."""
        from durable.primitives._async_api import result_async

        return await result_async(self, timeout)

    def _outcome(self) -> tuple[bool, str, Any]:
        """(ended, status, output) from one read; an ended run's error is raised here."""
        outcome = store.run_outcome(self.run_id)
        if outcome is None:
            raise RunNotFoundError(f"no run with id {self.run_id!r}")
        status, output, error, reason, imported = outcome
        if status not in ("SUCCESS", "ERROR", "CANCELLED", "DEAD"):
            return False, status, None
        return True, status, _outcome_value(self.run_id, status, output, error, reason, imported)

    def _result_in_workflow(self, waiter: context.RunContext) -> Any:
        waited_since = time.monotonic()
        interval = 0.01
        while True:
            ended, _, value = self._outcome()
            if ended:
                return value
            waiter.check_interrupted()
            if time.monotonic() - waited_since > settings.DURABLE_SLEEP_INLINE_SECONDS:
                wake_at = clock.deadline(settings.DURABLE_POLL_SECONDS)
                raise RunSuspended(waiter.run_id, wake_at)
            if waiter.cancelled.wait(interval):
                raise RunInterrupted(waiter.run_id)
            interval = min(interval * 2, 0.25)


def _outcome_value(
    run_id: str, status: str, output: Any, error: Any, reason: str, imported: bool = False
) -> Any:
    if status == "SUCCESS":
        return output
    if status == "ERROR":
        raise error_from_dict(error or {}, from_file=imported)
    if status == "CANCELLED":
        raise RunCancelledError(
            f"run {run_id} was cancelled{': ' + reason if reason else ''}; "
            "its checkpoints stay — resume it to continue"
        )
    message = (error or {}).get("message", "its executor died too often")
    raise RunDeadError(f"run {run_id} is DEAD: {message}")


@context.plain_in_async_steps
def start(
    workflow: Callable[..., Any] | str,
    *args: Any,
    run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    queue: str | Queue | None = None,
    priority: int = 0,
    timeout: float | None = None,
    dedup_id: str | None = None,
    delay: timedelta | float | None = None,
    at: datetime | None = None,
    max_recoveries: int | None = None,
    **kwargs: Any,
) -> RunHandle:
    """Start a run (idempotent on `run_id`); inside a workflow this starts a child run.

    With `delay` (a timedelta or seconds) or `at` (an aware datetime) the run stays ENQUEUED
    until then, on the database's clock; its timeout counts from that moment.

    Inside `transaction.atomic()` the run belongs to the caller's transaction: it is
    dispatched after commit and never exists if the caller rolls back. With `dedup_id`,
    while a run of the queue with that id is ENQUEUED or RUNNING, that run's handle is
    returned instead of starting another. `max_recoveries` overrides the workflow's (and
    DURABLE_MAX_RECOVERIES) for this run.
    """
    definition = resolve(workflow)
    if run_id is not None:
        validate_new_run_id(run_id)
    options = {"tags": validation.tags(tags), "queue": _queue_argument(queue),
               "priority": validation.priority(priority), "timeout": validation.timeout(timeout),
               "dedup_id": validation.text("dedup_id", dedup_id),
               "available_at": delays.due_at(delay, at),
               "max_recoveries": validation.max_recoveries(max_recoveries)}  # fmt: skip
    parent = context.current()
    if parent is not None and not parent.in_step:
        child_id = runtime.record_child(
            parent,
            definition.name,
            lambda child: _create(
                definition,
                args,
                kwargs,
                child,
                parent.run_id,
                parent_deadline=parent.deadline_at,
                **options,
            ),
            run_id,
            entry_input(
                {"args": list(args), "kwargs": kwargs},
                where=f"workflow {parent.workflow.name} child {definition.name} input",
            ),
        )
        return RunHandle(child_id)
    return RunHandle(_create(definition, args, kwargs, run_id, None, **options))


def _queue_argument(queue: str | Queue | None) -> str | None:
    return queue.name if isinstance(queue, Queue) else validation.text("queue", queue)


def _create(
    definition: WorkflowDefinition,
    args: tuple,
    kwargs: dict,
    run_id: str | None,
    parent_id: str | None,
    *,
    tags: dict[str, Any] | None,
    queue: str | None,
    priority: int,
    timeout: float | None,
    dedup_id: str | None = None,
    available_at: datetime | None = None,
    parent_deadline: datetime | None = None,
    max_recoveries: int | None = None,
) -> str:
    run_id = run_id or uuid.uuid4().hex
    run_input = dumps(
        {"args": list(args), "kwargs": kwargs},
        where=f"workflow {definition.name} run {run_id} input",
    )
    timeout = timeout if timeout is not None else definition.timeout
    delayed = delays.is_future(available_at)
    starts = available_at if delayed else clock.now()  # a delayed run's timeout starts then
    deadline = None if timeout is None else starts + timedelta(seconds=timeout)
    if parent_deadline is not None:  # a child never outlives its parent's deadline
        deadline = parent_deadline if deadline is None else min(deadline, parent_deadline)
    queue = queue_name(queue or definition.queue)  # @durable.workflow(queue=Queue(…)) too
    queues.ensure_stored(queue)  # its limits are in the database before its first run
    created = store.insert_run(
        run_id=run_id,
        workflow=definition.name,
        version=definition.version,
        input=run_input,
        tags=dumps(tags or {}, where=f"workflow {definition.name} run {run_id} tags"),
        queue=queue,
        priority=priority,
        parent_id=parent_id,
        forked_from_id=None,
        forked_from_step=None,
        available_at=available_at,
        deadline_at=deadline,
        # what a resume, restart or fork gives it again (not the delay before `starts`)
        timeout_seconds=None if deadline is None else max((deadline - starts).total_seconds(), 0),
        dedup_id=dedup_id,
        max_recoveries=max_recoveries if max_recoveries is not None else definition.max_recoveries,
    )
    if created:
        if delayed:  # no message now: executors' polls (or the Celery sweep) take it when due
            transaction.on_commit(executors.get_executor)  # this process's thread pool polls
        else:
            transaction.on_commit(lambda: executors.dispatch(run_id))
        return run_id
    existing, existing_parent, imported = store.run_identity(run_id) or (None, None, False)
    if imported:  # a file's record is never the result of this start (docs/export-format.md)
        raise RunIdConflictError(
            f"run id {run_id!r} is taken by a run imported from a file (`durable import`), "
            "which is never adopted as this start's run; choose another id, or delete the "
            "imported run"
        )
    if existing is None and dedup_id is not None:
        holder = store.active_dedup_run(queue, dedup_id)
        if holder is None:  # it just ended: the id is free again
            return _create(definition, args, kwargs, run_id, parent_id, tags=tags, queue=queue,
                           priority=priority, timeout=timeout, dedup_id=dedup_id,
                           available_at=available_at, parent_deadline=parent_deadline,
                           max_recoveries=max_recoveries)  # fmt: skip
        return holder
    if existing is not None and existing != definition.name:
        raise RunIdConflictError(
            f"run id {run_id!r} is taken by a run of workflow {existing!r}, not "
            f"{definition.name!r}; choose another id"
        )
    if parent_id is not None and existing is not None and existing_parent != parent_id:
        raise RunIdConflictError(  # a child start never adopts a run that is not its own
            f"run id {run_id!r} is taken by a run that is not a child of run {parent_id}; "
            "choose another id for the child, or leave run_id out to get a derived one"
        )
    return run_id


def run(workflow: Callable[..., Any] | str, *args: Any, **kwargs: Any) -> Any:
    """Start a run and wait for its result (which re-raises the run's error)."""
    return start(workflow, *args, **kwargs).result()


def get(run_id: str) -> RunHandle:
    """A handle to an existing run."""
    handle = RunHandle(validate_run_id(run_id))
    handle.status()
    return handle
