"""The engine's one hook into logs and traces: `run(...)` around each execution of a run,
`attempt(...)` around each step attempt. In-process only: no database round trip per step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from durable import logs, tracing


@contextmanager
def run(run_id: str, workflow: str, version: str, executor_id: str) -> Iterator[None]:
    """Tag log lines with the run and open its span, while this thread executes it."""
    token = logs.current_run.set(logs.RunTags(run_id, workflow, version, executor_id))
    attributes = {
        "durable.run_id": run_id,
        "durable.workflow": workflow,
        "durable.version": version,
        "durable.executor_id": executor_id,
    }
    try:
        with tracing.run_span(attributes):
            yield
    finally:
        logs.current_run.reset(token)


@contextmanager
def attempt(step: str, position: int, attempt_number: int) -> Iterator[None]:
    """Tag log lines with the step attempt and open its span, with its CPU time."""
    token = logs.current_step.set(logs.StepTags(step, position, attempt_number))
    run = logs.current_run.get()
    attributes = {
        "durable.run_id": run.run_id if run else "",
        "durable.workflow": run.workflow if run else "",
        "durable.version": run.version if run else "",
        "durable.executor_id": run.executor_id if run else "",
        "durable.step": step,
        "durable.position": position,
        "durable.attempt": attempt_number,
    }
    cpu = time.thread_time()
    try:
        with tracing.attempt_span(attributes) as span:
            try:
                yield
            finally:
                if span is not None and span.is_recording():
                    span.set_attribute("durable.cpu_seconds", time.thread_time() - cpu)
    finally:
        logs.current_step.reset(token)
