"""`@durable.workflow`, `@durable.step` and `@durable.transaction`.

Outside a workflow a step is a plain function call, so steps stay unit-testable; inside a
workflow every call is checkpointed (or replayed from its checkpoint).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import markcoroutinefunction

from durable.core import _async_runs as async_runs
from durable.core import _async_steps as async_steps
from durable.core import _context as context
from durable.core import _steps as steps
from durable.core import _validation as validation
from durable.core._registry import (
    RetryPolicy,
    StepDefinition,
    WorkflowDefinition,
    default_name,
    register,
    register_step,
    source_version,
)

F = TypeVar("F", bound=Callable[..., Any])


def workflow(
    func: F | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    queue: str = "default",
    timeout: float | None = None,
    max_recoveries: int | None = None,
) -> Any:
    """Mark a deterministic orchestrator; calling it starts a run and waits for its result.

    `max_recoveries` overrides DURABLE_MAX_RECOVERIES for its runs (stored on each run, so
    an executor without this code recovers it by the same limit)."""
    max_recoveries = validation.max_recoveries(max_recoveries)

    def decorate(f: F) -> F:
        is_async = inspect.iscoroutinefunction(f)
        definition = WorkflowDefinition(
            name=validation.workflow_name("the decorator's name=", name or default_name(f)),
            func=f,
            version=version or source_version(f),
            queue=queue,
            timeout=timeout,
            max_recoveries=max_recoveries,
        )
        register(definition)

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from durable.core._start import run

            # inside an async workflow (a child started at the call), or an async def one
            # outside any workflow: an awaitable of the result (docs/async.md)
            if async_runs.on_loop() or (is_async and context.current() is None):
                from durable.core._start import run_async

                return run_async(wrapper, *args, **kwargs)
            return run(wrapper, *args, **kwargs)

        def start(*args: Any, **kwargs: Any) -> Any:
            from durable.core._start import start as start_run

            return start_run(wrapper, *args, **kwargs)

        wrapper.__durable_workflow__ = definition  # type: ignore[attr-defined]
        wrapper.start = start  # type: ignore[attr-defined]
        wrapper.workflow_name = definition.name  # type: ignore[attr-defined]
        if is_async:
            markcoroutinefunction(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def step(
    func: F | None = None,
    *,
    name: str | None = None,
    retries: int = 0,
    backoff: float = 2.0,
    retry_delay: float = 1.0,
    max_delay: float = 300.0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    retry_if: Callable[[BaseException], bool] | None = None,
    jitter: float | bool = False,
    idempotent: bool = False,
    timeout: float | None = None,
    max_output_bytes: int | None = None,
) -> Any:
    """Mark a unit of work whose result is checkpointed; retried `retries` times on error.

    `idempotent=True` declares that running the body twice is harmless, so replay previews
    do not warn that its side effects may repeat. With `timeout`, an attempt running longer
    fails with StepTimeoutError (see durable.core._hung). `retry_if(exc)` returning False (or
    raising) fails the step at once; `jitter` (a fraction, or True for full jitter) spreads
    the backoff: see RetryPolicy.
    """
    return _step_decorator(
        func,
        "step",
        name,
        _policy(retries, retry_delay, backoff, max_delay, retry_on, retry_if, jitter),
        idempotent=idempotent,
        timeout=timeout,
        max_output_bytes=max_output_bytes,
    )


def transaction(
    func: F | None = None,
    *,
    name: str | None = None,
    retries: int = 0,
    backoff: float = 2.0,
    retry_delay: float = 1.0,
    max_delay: float = 300.0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    retry_if: Callable[[BaseException], bool] | None = None,
    jitter: float | bool = False,
    max_output_bytes: int | None = None,
) -> Any:
    """A step run inside `transaction.atomic()` whose checkpoint commits with its effects.

    A serialization failure or deadlock (SQLSTATE 40001, 40P01) reruns the transaction in
    place, up to DURABLE_TRANSACTION_CONFLICT_RETRIES times, without using `retries`."""
    return _step_decorator(
        func,
        "transaction",
        name,
        _policy(retries, retry_delay, backoff, max_delay, retry_on, retry_if, jitter),
        max_output_bytes=max_output_bytes,
    )


def _policy(
    retries: int,
    delay: float,
    backoff: float,
    max_delay: float,
    retry_on: tuple[type[BaseException], ...],
    retry_if: Callable[[BaseException], bool] | None,
    jitter: float | bool,
) -> RetryPolicy:
    return RetryPolicy(retries, delay, backoff, max_delay, retry_on,
                       validation.jitter(jitter), validation.retry_if(retry_if))  # fmt: skip


def _step_decorator(
    func: F | None,
    kind: str,
    name: str | None,
    retry: RetryPolicy,
    *,
    idempotent: bool = False,
    timeout: float | None = None,
    max_output_bytes: int | None = None,
) -> Any:
    def decorate(f: F) -> F:
        if kind == "transaction" and inspect.iscoroutinefunction(f):
            raise TypeError(
                f"@durable.transaction cannot mark the async function {default_name(f)}: "
                "Django's transaction.atomic() is sync only; make it a plain `def` (an async "
                "workflow may call it, it runs on the run's database thread)"
            )
        definition = StepDefinition(
            name=name or default_name(f),
            func=f,
            kind=kind,
            retry=retry,
            idempotent=idempotent,
            timeout=timeout,
            max_output_bytes=max_output_bytes,
        )
        register_step(definition)
        if inspect.iscoroutinefunction(f):
            return _async_step_wrapper(f, definition)

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            run_context = context.current()
            if run_context is None or run_context.in_step:
                if kind == "transaction":
                    from django.db import transaction as db_transaction

                    with db_transaction.atomic():
                        return f(*args, **kwargs)
                return f(*args, **kwargs)
            if async_runs.on_loop():  # a sync step in an async workflow: on the run thread
                return async_runs.call_blocking(
                    steps.call_step, run_context, definition, args, kwargs
                )
            return steps.call_step(run_context, definition, args, kwargs)

        wrapper.__durable_step__ = definition  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def _async_step_wrapper(f: F, definition: StepDefinition) -> F:
    """A plain function returning a coroutine, so that the step's position is taken when it
    is called (see durable.core._async_steps); still an `async def` to
    inspect.iscoroutinefunction."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        run_context = context.current()
        if run_context is None or run_context.in_step:
            return f(*args, **kwargs)
        if not async_runs.on_loop():
            raise TypeError(
                f"the async step {definition.name} was called from the sync workflow "
                f"{run_context.workflow.name}; make the workflow `async def` and await the step"
            )
        return async_steps.call_step(run_context, definition, args, kwargs)

    wrapper.__durable_step__ = definition  # type: ignore[attr-defined]
    return markcoroutinefunction(wrapper)  # type: ignore[return-value]
