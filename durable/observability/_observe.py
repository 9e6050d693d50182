"""The engine's one hook into logs and traces: `run(...)` around each execution of a run,
`attempt(...)` around each step attempt. In-process only: no database round trip per step,
and without a configured tracer only two context-variable writes per attempt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any

from durable.observability import logs, tracing


@contextmanager
def run(run_id: str, workflow: str, version: str, executor_id: str) -> Iterator[None]:
    """Tag log lines with the run and open its span, while this thread executes it."""
    traced = tracing.active()  # its steps take this answer (see attempt)
    token = logs.current_run.set(logs.RunTags(run_id, workflow, version, executor_id, traced))
    try:
        if traced:
            with tracing.run_span(_run_attributes(logs.current_run.get())):
                yield
        else:
            yield
    finally:
        logs.current_run.reset(token)


def _run_attributes(run: logs.RunTags | None) -> dict[str, Any]:
    if run is None:
        return {}
    return {
        "durable.run_id": run.run_id,
        "durable.workflow": run.workflow,
        "durable.version": run.version,
        "durable.executor_id": run.executor_id,
    }


def cpu_ms() -> float:
    """CPU time (`time.thread_time`) the current step attempt has used so far, in ms."""
    step = logs.current_step.get()
    return (time.thread_time() - step.cpu_started) * 1000 if step is not None else 0.0


class attempt:  # noqa: N801 - used as a function: `with observe.attempt(...)`
    """Tag log lines with the step attempt and, when tracing, open its span with its CPU
    time. A class, not a generator, because it wraps every step attempt."""

    __slots__ = ("step", "position", "number", "token", "span")

    def __init__(self, step: str, position: int, attempt_number: int) -> None:
        self.step, self.position, self.number = step, position, attempt_number
        self.span: AbstractContextManager[Any] | None = None

    def __enter__(self) -> None:
        tags = logs.StepTags(self.step, self.position, self.number, time.thread_time())
        self.token = logs.current_step.set(tags)
        run = logs.current_run.get()
        # the execution's answer: without a provider, the API's lookup reads the environment
        if run.traced if run is not None else tracing.active():
            attributes = _run_attributes(run)
            attributes.update(
                {
                    "durable.step": self.step,
                    "durable.position": self.position,
                    "durable.attempt": self.number,
                }
            )
            self.span = tracing.attempt_span(attributes)
            self.span.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self.span is not None:
                tracing.set_cpu_seconds(cpu_ms() / 1000)
                self.span.__exit__(exc_type, exc, traceback)
        finally:
            logs.current_step.reset(self.token)
