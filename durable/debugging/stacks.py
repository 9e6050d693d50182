"""Where is a run now: the live Python stack of the thread executing its current step.

The question is a row (`durable_stackrequest`); the run's owner answers it from its lifeline
heartbeat (`durable.executors._stacks`), on the thread executor and on Celery workers alike,
so no port is opened and no broker feature is needed. Local variables are for operators:
bounded and redacted by the DURABLE_STACK_* settings.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from durable.core import store
from durable.core.conf import settings
from durable.debugging.export import get_run
from durable.errors import DurableError, InvalidArgumentError, OperationRefused
from durable.models import RunStatus
from durable.operations import current_actor

# a cancelled run's step may still hang on a thread its executor abandoned
ASKABLE = (RunStatus.RUNNING, RunStatus.CANCELLED)
MAX_TIMEOUT = 600


class StackTimeoutError(DurableError, TimeoutError):
    """The run's owner did not answer in time (busy, unreachable, or no longer executing it)."""


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    function: str
    source: str
    locals: dict[str, str] | None = None


@dataclass(frozen=True)
class ThreadStack:
    thread: str
    hung: bool
    frames: list[Frame] = field(default_factory=list)
    omitted: int = 0  # outer frames past the bound on a deep stack


@dataclass(frozen=True)
class LiveStack:
    run_id: str
    executor_id: str
    threads: list[ThreadStack]

    def render(self) -> str:
        """As a Python traceback reads: outermost call first, the current line last."""
        if not self.threads:
            return f"run {self.run_id}: executor {self.executor_id} executes no step of it now"
        lines = [f"run {self.run_id} on executor {self.executor_id}"]
        for thread in self.threads:
            lines.append(f"thread {thread.thread}{' (hung, abandoned)' if thread.hung else ''}:")
            if thread.omitted:
                lines.append(f"  … {thread.omitted} outer frame(s) not shown")
            for frame in thread.frames:
                lines.append(f'  File "{frame.file}", line {frame.line}, in {frame.function}')
                if frame.source:
                    lines.append(f"    {frame.source}")
                for name, value in (frame.locals or {}).items():
                    lines.append(f"      {name} = {value}")
        return "\n".join(lines)


def ask(run_id: str, *, include_locals: bool = False, requested_by: str = "") -> int:
    """Put the question to the run's owner; the request id to read its answer with."""
    run = get_run(run_id)
    if run.status not in ASKABLE:
        raise OperationRefused(
            run.id,
            f"it is {run.status}, so no step of it runs now; its recorded steps and errors "
            "are on `durable show`",
        )
    return store.ask_stack(run.id, include_locals, current_actor(requested_by or None))


def answer(run_id: str, request_id: int, *, include_locals: bool = False) -> LiveStack | None:
    """The owner's answer, or None while it has not answered yet (or if that request is not
    about that run). Askers share a pending question, so locals are dropped here unless this
    asker asked for them."""
    answered, body, executor_id = store.stack_answer(run_id, request_id)
    if not answered:
        return None
    if isinstance(body, str):  # Django's connection leaves jsonb as text
        body = json.loads(body)
    threads = [
        ThreadStack(
            thread=thread["thread"],
            hung=thread["hung"],
            frames=[Frame(**frame) for frame in thread["frames"]],
            omitted=thread.get("omitted", 0),
        )
        for thread in (body or {}).get("threads", [])
    ]
    found = LiveStack(run_id=run_id, executor_id=executor_id, threads=threads)
    return found if include_locals else without_locals(found)


def live_stack(
    run_id: str,
    *,
    include_locals: bool = False,
    requested_by: str = "",
    timeout: float | None = None,
) -> LiveStack:
    """Ask and wait (DURABLE_STACK_TIMEOUT_SECONDS by default) for the owner's answer."""
    wait = settings.DURABLE_STACK_TIMEOUT_SECONDS if timeout is None else timeout
    if not 0 < wait <= MAX_TIMEOUT:
        raise InvalidArgumentError("timeout", f"{wait:g} s; give seconds between 0 and 600")
    request_id = ask(run_id, include_locals=include_locals, requested_by=requested_by)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = answer(run_id, request_id, include_locals=include_locals)
        if found is not None:
            return found
        time.sleep(0.1)
    raise StackTimeoutError(
        f"run {run_id}: its owner did not answer within {wait:g}s; it may be between steps "
        "on a busy or unreachable executor, or no executor executes it now — "
        "`durable show` names the owner; try again or raise --timeout"
    )


def without_locals(stack: LiveStack) -> LiveStack:
    """The same stack for someone who may not see local variables."""
    threads = [
        replace(thread, frames=[replace(f, locals=None) for f in thread.frames])
        for thread in stack.threads
    ]
    return replace(stack, threads=threads)


def as_json(stack: LiveStack) -> dict[str, Any]:
    return {
        "run_id": stack.run_id,
        "executor_id": stack.executor_id,
        "threads": [
            {
                "thread": thread.thread,
                "hung": thread.hung,
                "omitted": thread.omitted,
                "frames": [frame.__dict__ for frame in thread.frames],
            }
            for thread in stack.threads
        ],
    }
