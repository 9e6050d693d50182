"""Starting runs and getting handles to them: the calls application code makes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.db import transaction

from durable.core import _async_runs as async_runs
from durable.core import _by_name as by_name
from durable.core import _clock as clock
from durable.core import _context as context
from durable.core import _creation as creation
from durable.core import _delays as delays
from durable.core import _dispatch as dispatching
from durable.core import _endings as endings
from durable.core import _finish_notices as finish_notices
from durable.core import _registry as registry
from durable.core import _validation as validation
from durable.core import store
from durable.core._context import RunInterrupted, RunSuspended
from durable.core._outcomes import outcome_value
from durable.core._registry import WorkflowDefinition, get_workflow
from durable.core._serialization import loads
from durable.core._validation import validate_new_run_id, validate_run_id
from durable.core.conf import settings
from durable.errors import (
    DurableError,
    ResultTimeoutError,
    RunNotFoundError,
)
from durable.primitives import _async_api as async_api
from durable.primitives import _children as waits
from durable.queues import Queue, queue_name


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


# a run executing here tells its end to result(), one elsewhere notifies it (LISTEN): the
# row is read this often all the same, in case a notice was lost
TOLD_FALLBACK = 1.0


def _told_value(run_id: str, outcome: endings.Outcome) -> Any:
    status, output, error = outcome
    return outcome_value(run_id, status, loads(output), loads(error), "")


class RunHandle:
    """A reference to a run; every method reads the run's current state from the database
    (but `result()` of a run that ends on this process's threads, which is told the end)."""

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
        ending = endings.watch(self.run_id)
        read = not endings.executing_here(self.run_id)  # else its end will be told here
        interval = 0.005
        try:
            while True:
                if ending.outcome is not None:  # written by this process's thread: no read
                    return _told_value(self.run_id, ending.outcome)
                status = "RUNNING"
                if read:
                    ended, status, value = self._outcome()
                    if ended:
                        return value
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise ResultTimeoutError(
                        f"run {self.run_id} is still {status} after {timeout}s; it goes on — "
                        "call result() again or check its status later"
                    )
                told = endings.executing_here(self.run_id) or finish_notices.listening()
                wait = TOLD_FALLBACK if told else interval
                ending.event.wait(wait if remaining is None else min(wait, remaining))
                ending.event.clear()
                read = True  # after any wake-up or timeout without an outcome told
                interval = min(interval * 1.5, 0.25)
        finally:
            endings.unwatch(self.run_id, ending)

    async def result_async(self, timeout: float | None = None) -> Any:
        """`result()`, awaitable: for async workflows and async views
        (durable.primitives._async_api)."""
        return await async_api.result_async(self, timeout)

    def _outcome(self) -> tuple[bool, str, Any]:
        """(ended, status, output) from one read; an ended run's error is raised here."""
        outcome = store.run_outcome(self.run_id)
        if outcome is None:
            raise RunNotFoundError(f"no run with id {self.run_id!r}")
        status, output, error, reason, imported = outcome
        if status not in ("SUCCESS", "ERROR", "CANCELLED", "DEAD"):
            return False, status, None
        return True, status, outcome_value(self.run_id, status, output, error, reason, imported)

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
               "due_at": delays.due_at(delay, at),
               "max_recoveries": validation.max_recoveries(max_recoveries)}  # fmt: skip
    new = _new_run(definition, args, kwargs, run_id, **options)
    parent = context.current()
    if parent is not None and not parent.in_step:
        return RunHandle(creation.start_child(parent, new, run_id))
    return RunHandle(creation.start_run(new))


def _queue_argument(queue: str | Queue | None) -> str | None:
    return queue.name if isinstance(queue, Queue) else validation.text("queue", queue)


def _new_run(
    definition: WorkflowDefinition,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    run_id: str | None,
    *,
    tags: dict[str, Any] | None,
    queue: str | None,
    priority: int,
    timeout: float | None,
    dedup_id: str | None,
    due_at: datetime | None,
    max_recoveries: int | None,
) -> creation.NewRun:
    """A start of `definition`: what the call left out, the workflow's declaration gives."""
    return creation.NewRun(
        workflow=definition.name,
        version=definition.version,
        input={"args": list(args), "kwargs": kwargs},
        queue=queue_name(queue or definition.queue) or "default",  # a Queue(…) declared too
        run_id=run_id or uuid.uuid4().hex,
        tags=tags or {},
        priority=priority,
        timeout=timeout if timeout is not None else definition.timeout,
        due_at=due_at,
        max_recoveries=max_recoveries if max_recoveries is not None else definition.max_recoveries,
        dedup_id=dedup_id,
    )


def run(workflow: Callable[..., Any] | str, *args: Any, **kwargs: Any) -> Any:
    """Start a run and wait for its result (which re-raises the run's error).

    A run claimed in its insert by this process's thread executor is executed on this
    thread, which would only wait for it (no hand-off to a pool thread and back); its slot
    in the pool is held until it ends, and cancels, leases and shutdowns treat it as any
    run in flight there. Inside a workflow, or a step, or on a thread whose event loop is
    running (a notebook's cell, sync Playwright), where an async workflow could not run, the
    run is handed to the pool.

    Inside the caller's `transaction.atomic()` (a @durable.transaction step included) the
    new run exists for the executors only once that transaction commits, so waiting for it
    there could never end: refused, saying so."""
    waiter = context.current()  # a workflow body's own children: a replay's transaction too
    if (waiter is None or waiter.in_step) and transaction.get_connection().in_atomic_block:
        raise DurableError(
            "durable.run() inside transaction.atomic() (or a @durable.transaction step, or a "
            "view under ATOMIC_REQUESTS) would wait forever: the new run starts only when that "
            "transaction commits; call durable.start() there and wait for handle.result() "
            "after the commit (a view: mark it transaction.non_atomic_requests)"
        )
    if waiter is not None or async_runs.loop_runs_here():
        return start(workflow, *args, **kwargs).result()
    dispatching.execute_here()
    try:
        handle = start(workflow, *args, **kwargs)
    except BaseException:
        left = dispatching.take_handed()
        if left is not None:  # claimed for this thread, which will not execute it now
            left.give_to_pool()
        raise
    handed = dispatching.take_handed()
    if handed is None:
        return handle.result()
    ending = endings.watch(handle.run_id)  # the end written here is told to result()
    try:
        handed.execute()
        return handle.result()
    finally:
        endings.unwatch(handle.run_id, ending)


def get(run_id: str) -> RunHandle:
    """A handle to an existing run."""
    handle = RunHandle(validate_run_id(run_id))
    handle.status()
    return handle


@markcoroutinefunction
def start_async(
    workflow: Callable[..., Any] | str, *args: Any, **options: Any
) -> Awaitable[RunHandle]:
    """`durable.start`, awaitable: from an async view, or a child run in an async workflow
    (started at the call, so `gather` over starts numbers the children in call order). A
    name whose code this process lacks is started as `durable.client.start` does."""
    if isinstance(workflow, str) and not registry.is_registered(workflow):
        workflow = by_name.stand_in(workflow)
    return async_api.at_call("start_async", start, workflow, *args, **options)


@markcoroutinefunction
def run_async(workflow: Callable[..., Any] | str, *args: Any, **kwargs: Any) -> Awaitable[Any]:
    """Start a run and await its result (`durable.run`, awaitable); inside an async workflow
    the child starts at the call, so `gather` over children numbers them in call order."""
    return _result_of(start_async(workflow, *args, **kwargs))


async def _result_of(started: Awaitable[RunHandle]) -> Any:
    return await async_api.result_async(await started)
