"""The state of the run executing on this thread: its history and its position in it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable import clock
from durable.errors import NonDeterminismError
from durable.registry import WorkflowDefinition
from durable.serialization import error_from_dict


class RunInterrupted(BaseException):  # noqa: N818 - control flow, not an error for users
    """The run lost its claim (cancelled, or its lease went to another executor).

    A BaseException so that a workflow's `except Exception:` cannot swallow it.
    """


class RunSuspended(RunInterrupted):
    """The run waits (a long durable sleep) and gives its thread back until `wake_at`."""

    def __init__(
        self, run_id: str, wake_at: datetime, on_parked: Callable[[], None] | None = None
    ) -> None:
        super().__init__(run_id)
        self.wake_at = wake_at
        self.on_parked = on_parked  # called once the run is parked (to catch a racing wake-up)


class RunTimedOut(RunInterrupted):
    """The run's deadline passed; it ends CANCELLED with `reason`, and so do its children."""

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(run_id)
        self.reason = reason


@dataclass(frozen=True)
class RecordedStep:
    position: int
    name: str
    kind: str
    status: str
    output: Any
    error: dict[str, Any] | None

    def replay(self) -> Any:
        """Return the recorded output, or raise the recorded error, as the first run did."""
        if self.status == "ERROR" and self.error is not None:
            raise error_from_dict(self.error)
        return self.output


@dataclass
class RunContext:
    run_id: str
    workflow: WorkflowDefinition
    executor_id: str
    recorded: dict[int, RecordedStep]
    cancelled: threading.Event = field(default_factory=threading.Event)
    deadline_at: datetime | None = None
    position: int = 0
    in_step: bool = False
    nondeterminism: NonDeterminismError | None = None

    def next_position(self) -> int:
        position = self.position
        self.position += 1
        return position

    def recorded_at(self, position: int, name: str) -> RecordedStep | None:
        """The checkpoint at `position`, after checking the code asks for the same step."""
        recorded = self.recorded.get(position)
        if recorded is not None and recorded.name != name:
            self.nondeterminism = NonDeterminismError(
                f"run {self.run_id} step {position}: code asked for {name!r} but the history "
                f"has {recorded.name!r}; deploy the code version that started this run "
                f"({self.workflow.name}), or fork the run from step {position}"
            )
            raise self.nondeterminism
        return recorded

    def check_interrupted(self) -> None:
        """Called at every step boundary: cancellation and timeouts take effect here."""
        if self.cancelled.is_set():
            raise RunInterrupted(self.run_id)
        if self.deadline_at is not None and clock.now() >= self.deadline_at:
            raise RunTimedOut(
                self.run_id, f"timed out: its deadline {self.deadline_at.isoformat()} passed"
            )


_current: ContextVar[RunContext | None] = ContextVar("durable_run_context", default=None)


def current() -> RunContext | None:
    return _current.get()


def activate(context: RunContext) -> Any:
    return _current.set(context)


def deactivate(token: Any) -> None:
    _current.reset(token)
