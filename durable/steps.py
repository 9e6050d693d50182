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
from django.db import DatabaseError, connection, transaction

from durable import db, hung, store
from durable.context import RecordedStep, RunContext, RunInterrupted, RunReleased
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
                return self._attempt()
            except (RunInterrupted, SerializationError):
                raise  # not the step's failure: nothing is recorded, the call itself fails
            except db.DatabaseUnavailable as exc:  # past the budget: the run is released
                raise RunReleased(self.run_context.run_id) from exc
            except Exception as exc:
                final = self.attempt > retry.retries or not isinstance(exc, retry.retry_on)
                self._record_failure(exc, final)
                if final:
                    raise
                self._back_off(retry.wait_before(self.attempt), exc)
                self.attempt += 1

    def _back_off(self, seconds: float, exc: Exception) -> None:
        """Wait before a retry, but never past the run's deadline, and stop on cancel."""
        deadline = self.run_context.deadline_at
        if deadline is not None:
            seconds = min(seconds, max((deadline - datetime.now(UTC)).total_seconds(), 0))
        if self.run_context.cancelled.wait(seconds):
            raise RunInterrupted(self.run_context.run_id) from exc
        self.run_context.check_interrupted()

    def _attempt(self) -> Any:
        if self.step.kind == "transaction":
            return self._transaction_attempt()
        return self._checkpoint(self._call_body())

    def _transaction_attempt(self) -> Any:
        """One attempt of a transaction step; a lost connection retries the transaction whole.

        When the connection drops around the commit, whether it committed is unknown: the
        checkpoint is read back first (it commits with the step's effects), and only if it
        is missing does the body run again. Reconnecting is not a failed attempt.
        """
        outage = db.Outage(self.where)
        while True:
            try:
                with transaction.atomic():
                    return self._checkpoint(self._call_body())
            except Exception as exc:
                if connection.in_atomic_block or not db.is_transient(exc):
                    raise
                outage.wait(exc)
            committed = db.retrying(self._read_back, what=f"{self.where}: read back")
            if committed is not None:
                return committed.replay()

    def _read_back(self) -> RecordedStep | None:
        return store.recorded_step(
            self.run_context.run_id, self.position, self.run_context.executor_id
        )

    def _call_body(self) -> Any:
        self.run_context.in_step = True
        try:
            if self.step.timeout is None:
                return self.step.func(*self.args, **self.kwargs)
            return hung.call_with_timeout(
                self.step.func,
                self.args,
                self.kwargs,
                timeout=self.step.timeout,
                cancelled=self.run_context.cancelled,
                interrupted=lambda: RunInterrupted(self.run_context.run_id),
                where=self.where,
            )
        finally:
            self.run_context.in_step = False

    def _checkpoint(self, result: Any) -> Any:
        output = dumps(result, where=f"{self.where} output")
        self._record(status="SUCCESS", output=output)
        return roundtrip(output)

    def _record_failure(self, exc: Exception, final: bool) -> None:
        error = error_to_dict(exc)
        error_json = dumps(error, where="error")
        try:
            store.record_attempt(
                run_id=self.run_context.run_id,
                position=self.position,
                attempt=self.attempt,
                name=self.step.name,
                error=error_json,
                error_type=error["type"],
                started_at=self.started_at,
                finished_at=datetime.now(UTC),
            )
        except Exception as record_error:  # the history misses one attempt; the run goes on
            logger.warning(
                "%s: attempt %d failed (%s) and could not be recorded (%s); retrying anyway",
                self.where, self.attempt, error["message"], record_error,
            )  # fmt: skip
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
        except db.DatabaseUnavailable as exc:
            raise RunReleased(self.run_context.run_id) from exc
        except (DatabaseError, psycopg.Error) as exc:
            if connection.in_atomic_block and db.is_transient(exc):
                raise  # the transaction step retries its whole transaction

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
            **outcome,
        )
