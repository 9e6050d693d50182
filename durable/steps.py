"""Executing one step inside a workflow: replay its checkpoint, or run, retry and record it.

Invariant: the checkpoint is written once, when the step finishes, and only while the run
is still owned by this executor; for `@durable.transaction` steps it commits with the
step's own writes. Each failed attempt is written the moment it fails.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import DatabaseError, transaction

from durable import observe, output_limits, store
from durable.context import RunContext, RunInterrupted
from durable.errors import SerializationError
from durable.registry import StepDefinition
from durable.serialization import (
    describe_for_display,
    dumps,
    error_to_dict,
    fingerprint,
    roundtrip,
)

logger = logging.getLogger("durable")


def call_step(run_context: RunContext, step: StepDefinition, args: tuple, kwargs: dict) -> Any:
    """Run a step inside a workflow: replay its checkpoint, or execute and checkpoint it."""
    position = run_context.next_position()
    recorded = run_context.recorded_at(position, step.name)
    if recorded is not None:
        return recorded.replay()
    run_context.check_interrupted()
    return StepCall(run_context, step, position, args, kwargs).execute()


@dataclass
class StepCall:
    run_context: RunContext
    step: StepDefinition
    position: int
    args: tuple
    kwargs: dict
    attempt: int = 1
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.step_input = describe_for_display({"args": list(self.args), "kwargs": self.kwargs})
        self.where = (
            f"workflow {self.run_context.workflow.name} run {self.run_context.run_id} "
            f"step {self.position} ({self.step.name})"
        )

    def execute(self) -> Any:
        retry = self.step.retry
        while True:
            self.started_at, self.started = datetime.now(UTC), time.perf_counter()
            try:
                with observe.attempt(self.step.name, self.position, self.attempt):
                    return self._attempt()
            except (RunInterrupted, SerializationError):
                raise  # not the step's failure: nothing is recorded, the call itself fails
            except Exception as exc:
                final = self.attempt > retry.retries or not isinstance(exc, retry.retry_on)
                self._record_failure(exc, final)
                if final:
                    raise
                if self.run_context.cancelled.wait(retry.wait_before(self.attempt)):
                    raise RunInterrupted(self.run_context.run_id) from exc
                self.attempt += 1

    def _attempt(self) -> Any:
        if self.step.kind == "transaction":
            with transaction.atomic():
                return self._checkpoint(self._call_body())
        return self._checkpoint(self._call_body())

    def _call_body(self) -> Any:
        self.run_context.in_step = True
        try:
            return self.step.func(*self.args, **self.kwargs)
        finally:
            self.run_context.in_step = False

    def _checkpoint(self, result: Any) -> Any:
        output = dumps(result, where=f"{self.where} output")
        output_limits.check(self.step, output, self.where)
        self._record(status="SUCCESS", output=output)
        return roundtrip(output)

    def _record_failure(self, exc: Exception, final: bool) -> None:
        error = error_to_dict(exc)
        error_json = dumps(error, where="error")
        written = store.record_attempt(
            run_id=self.run_context.run_id,
            executor_id=self.run_context.executor_id,
            position=self.position,
            attempt=self.attempt,
            name=self.step.name,
            error=error_json,
            error_type=error["type"],
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
        )
        if not written:  # another executor owns the run now: leave it alone
            raise RunInterrupted(self.run_context.run_id) from exc
        if final:
            self._record(
                status="ERROR",
                error=error_json,
                error_type=error["type"],
                error_fingerprint=fingerprint(error["type"], error["message"]),
            )

    def _record(self, **outcome: Any) -> None:
        """A failed checkpoint write is not the step's failure: the run stops here and is
        recovered from its last checkpoint, instead of retrying or failing a step that worked."""
        try:
            written = self._write(**outcome)
        except (DatabaseError, psycopg.Error) as exc:
            logger.warning(
                "run %s: checkpoint of step %s not written (%s); leaving the run to recovery",
                self.run_context.run_id,
                self.position,
                exc,
            )
            raise RunInterrupted(self.run_context.run_id) from exc
        if not written:
            raise RunInterrupted(self.run_context.run_id)

    def _write(self, **outcome: Any) -> bool:
        return store.record_step(
            run_id=self.run_context.run_id,
            executor_id=self.run_context.executor_id,
            position=self.position,
            name=self.step.name,
            kind=self.step.kind,
            input=self.step_input,
            attempts=self.attempt,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            duration_ms=(time.perf_counter() - self.started) * 1000,
            cpu_ms=observe.cpu_ms(),
            **outcome,
        )
