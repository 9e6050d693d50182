"""Executing one step inside a workflow: replay its checkpoint, or run, retry and record it.

Invariant: the checkpoint is written once, when the step finishes, and only while the run
is still owned by this executor; for `@durable.transaction` steps it commits with the
step's own writes. Each failed attempt is written the moment it fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import psycopg
from django.db import DatabaseError, connection, transaction

from durable.core import _clock as clock
from durable.core import _history as history
from durable.core import _hung as hung
from durable.core import _last_step as last_step
from durable.core import _output_limits as output_limits
from durable.core import _step_logs as step_logs
from durable.core import store
from durable.core._async_runs import on_loop
from durable.core._context import (
    RecordedStep,
    RunContext,
    RunGivenBack,
    RunInterrupted,
    RunReleased,
)
from durable.core._registry import StepDefinition
from durable.core._serialization import (
    EntryInput,
    dumps,
    entry_input,
    error_to_dict,
    fingerprint,
    roundtrip,
)
from durable.core.store import _db as db
from durable.errors import BrokenTransactionError, SerializationError
from durable.observability import _observe as observe

logger = logging.getLogger("durable")


def call_step(run_context: RunContext, step: StepDefinition, args: tuple, kwargs: dict) -> Any:
    """Run a step inside a workflow: replay its checkpoint, or execute and checkpoint it."""
    where = f"workflow {run_context.workflow.name} run {run_context.run_id} step {step.name}"
    step_input = entry_input({"args": list(args), "kwargs": kwargs}, where=f"{where} input")
    return history.replay_or_run(
        run_context,
        step.name,
        step_input,
        lambda position: StepCall(run_context, step, position, args, kwargs, step_input).execute(),
        RecordedStep.replay,
    )


@dataclass
class StepCall:
    run_context: RunContext
    step: StepDefinition
    position: int
    args: tuple
    kwargs: dict
    step_input: EntryInput
    attempt: int = field(init=False)  # goes on from the attempts already recorded
    budget_used: int = field(init=False)  # of those, the ones since the last resume
    started_at: datetime = field(init=False)  # of the current attempt (begin_attempt)
    started: float = field(init=False)
    logs: step_logs.Buffer | None = field(init=False, default=None)  # the attempt's records

    def __post_init__(self) -> None:
        prior, self.budget_used = self.run_context.attempts_before(self.position)
        self.attempt = prior + 1

    @property
    def where(self) -> str:
        """The step named for messages (built only when one is written)."""
        return (
            f"workflow {self.run_context.workflow.name} run {self.run_context.run_id} "
            f"step {self.position} ({self.step.name})"
        )

    def execute(self) -> Any:
        while True:
            self.begin_attempt()
            # the log records of a failed attempt travel with its attempt row (after_failure)
            with step_logs.capture(self.run_context.run_id, self.position, self.attempt) as logs:
                self.logs = logs
                try:
                    with observe.attempt(self.step.name, self.position, self.attempt):
                        return self._attempt()
                except (RunInterrupted, SerializationError):
                    raise  # not the step's failure: nothing is recorded, the call itself fails
                except Exception as exc:
                    failure, wait = exc, self.after_failure(exc)
            if self.run_context.cancelled.wait(wait):
                raise RunInterrupted(self.run_context.run_id) from failure
            self.before_retry()
            self.run_context.check_interrupted()
            self.attempt += 1

    def before_retry(self) -> None:
        """A hold is heard from checkpoint replies, and a failing step writes none: ask
        before its next attempt, so a hold stops the retries too ("stop hammering now")."""
        if store.run_held(self.run_context.run_id):
            self.run_context.held.set()

    def begin_attempt(self) -> None:
        self.started_at, self.started = datetime.now(UTC), time.perf_counter()

    def pending_logs(self) -> dict[str, Any]:
        """The attempt's log records for the statement that ends it (see step_logs)."""
        logs, dropped = self.logs.pending() if self.logs is not None else (None, 0)
        return {"logs": logs, "logs_dropped": dropped}

    def logs_kept(self, kept: object) -> None:
        """After the statement that ends the attempt: its records are kept if it wrote."""
        if kept and self.logs is not None:
            self.logs.kept()

    def after_failure(self, exc: Exception) -> float:
        """Record a failed attempt; raise if it was the last one, else return how long to
        wait before the next one (never past the run's deadline)."""
        if isinstance(exc, db.DatabaseUnavailable):  # past the budget: the run is released
            raise RunReleased(self.run_context.run_id) from exc
        retry = self.step.retry
        retry_number = self.attempt - self.budget_used
        refusal = "" if retry_number > retry.retries else retry.refusal(exc)
        if refusal:
            exc.add_note(f"durable: {refusal}")
        seconds = None if refusal is not None else retry.wait_before(retry_number)
        self._record_failure(exc, final=refusal is not None, note=refusal, delay=seconds)
        if seconds is None:
            raise exc
        deadline = self.run_context.deadline_at
        if deadline is not None:
            seconds = min(seconds, max(clock.seconds_until(deadline), 0))
        return seconds

    def _attempt(self) -> Any:
        if self.step.kind == "transaction":
            return self._transaction_attempt()
        return self.checkpoint(self._call_body())

    def _transaction_attempt(self) -> Any:
        """One attempt of a transaction step; a lost connection retries the transaction whole.

        When the connection drops around the commit, whether it committed is unknown: the
        checkpoint is read back first (it commits with the step's effects), and only if it
        is missing does the body run again. Reconnecting is not a failed attempt; neither
        is a rerun after a serialization failure or deadlock (db.Conflicts), which the
        server rolled back whole.
        """
        outage, conflicts = db.Outage(self.where), db.Conflicts(self.where)
        while True:
            try:
                with transaction.atomic():
                    result = self._call_body()
                    self._raise_if_transaction_broken()
                    return self.checkpoint(result)
            except Exception as exc:
                if connection.in_atomic_block:
                    raise
                if self.logs is not None:  # rolled back with the checkpoint, unless found
                    self.logs.unkept()
                if db.is_conflict(exc) and conflicts.wait(exc):
                    continue  # rolled back for sure: a fresh transaction, not an attempt
                if not db.is_transient(exc):
                    raise
                outage.wait(exc)
            committed = db.retrying(self._read_back, what=f"{self.where}: read back")
            if committed is not None:
                self.logs_kept(True)  # they committed with it
                return committed.replay()

    def _read_back(self) -> RecordedStep | None:
        return store.recorded_step(
            self.run_context.run_id, self.position, self.run_context.executor_id
        )

    def _raise_if_transaction_broken(self) -> None:
        """A body that caught a database error inside its transaction left it unusable.
        That is the step's failure (recorded, retried), not a checkpoint write that failed
        (which would leave the run to recovery, and the body to run again on every one)."""
        pg_status = connection.connection.info.transaction_status
        if connection.needs_rollback or pg_status == psycopg.pq.TransactionStatus.INERROR:
            raise BrokenTransactionError(
                f"{self.where}: a database error inside the step's transaction was caught, "
                "so the transaction cannot commit; let the error propagate, or wrap the "
                "statement that may fail in its own `transaction.atomic()` (a savepoint)"
            ) from connection.rollback_exc

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

    def checkpoint(self, result: Any) -> Any:
        where = self.where
        output = dumps(result, where=f"{where} output")
        output_limits.check(self.step, output, where)
        params = self._params(status="SUCCESS", output=output)
        if self._ends_the_run(params):  # written with the run's end (durable.core._last_step)
            self.run_context.last_checkpoint = HeldCheckpoint(self, params)
        else:
            self._write_checked(params)
        return roundtrip(output)

    def _ends_the_run(self, params: dict[str, Any]) -> bool:
        """A quiet plain step the workflow returns right after, outside any transaction: its
        checkpoint may wait for the run's end, which nothing of the workflow's runs before."""
        return (  # the cheapest first: most steps are not followed by a return
            self.step.kind == "step"
            and params["logs"] is None
            and self.run_context.last_checkpoint is None
            and last_step.returns_next(self.run_context.workflow.func)
            and not on_loop()
            and not connection.in_atomic_block
        )

    def _record_failure(
        self, exc: Exception, final: bool, note: str | None = None, delay: float | None = None
    ) -> None:
        """`note` says why a retry was refused (retry_if); `delay` is the backoff chosen
        before the next attempt (jittered), kept with the attempt it follows."""
        error = error_to_dict(exc)
        if note:
            error["note"] = note
        if delay is not None:
            error["retry_delay_seconds"] = round(delay, 6)
        error_json = dumps(error, where="error")
        error_fingerprint = fingerprint(error["type"], error["message"])
        tally, finished_at = self.run_context.tally, datetime.now(UTC)
        try:
            written = store.record_attempt(
                run_id=self.run_context.run_id,
                executor_id=self.run_context.executor_id,
                position=self.position,
                attempt=self.attempt,
                name=self.step.name,
                error=error_json,
                error_type=error["type"],
                error_fingerprint=error_fingerprint,
                final=final,
                started_at=self.started_at,
                finished_at=finished_at,
                **self.pending_logs(),
            )
            self.logs_kept(written)
            if written:
                tally.wrote_attempt(self.started_at, finished_at)
        except db.DatabaseUnavailable as unavailable:
            # past the retry budget: the run is released, and no `except Exception` of the
            # workflow's may take this for the step's failure and go on (a try may have
            # committed before its reply was lost, so the totals are no longer known)
            tally.lose()
            raise RunReleased(self.run_context.run_id) from unavailable
        except Exception as record_error:  # the history misses one attempt; the run goes on
            logger.warning(
                "%s: attempt %d failed (%s) and could not be recorded (%s); retrying anyway",
                self.where, self.attempt, error["message"], record_error,
            )  # fmt: skip
            tally.lose()  # whether its row is there is not known
            written = True
        if not written:  # another executor owns the run now: leave it alone
            raise RunInterrupted(self.run_context.run_id) from exc
        if final:
            self._record(
                status="ERROR",
                error=error_json,
                error_type=error["type"],
                error_fingerprint=error_fingerprint,
            )

    def _record(self, **outcome: Any) -> None:
        self._write_checked(self._params(**outcome))

    def _write_checked(self, params: dict[str, Any]) -> None:
        """A failed checkpoint write is not the step's failure: the run stops here and is
        given back to be recovered from its last checkpoint (a recovery counted), instead of
        retrying or failing a step that worked, or staying RUNNING behind a live owner."""
        try:  # no context manager here: a generator per checkpoint is measurable
            written = store.record_step(**params)
        except Exception as exc:
            self.checkpoint_failed(exc)
        if written is not None:
            self.run_context.tally.wrote_entry(
                params["kind"], params["status"], params["duration_ms"]
            )
        self.logs_kept(written)
        self.run_context.stop_if_cancelled(written)

    @contextmanager
    def checkpoint_errors(self) -> Iterator[None]:
        """What a checkpoint write that fails means for the run (see `_write_checked`)."""
        try:
            yield
        except Exception as exc:
            self.checkpoint_failed(exc)

    def checkpoint_failed(self, exc: Exception) -> NoReturn:
        """Raise what the failed checkpoint write `exc` means for the run."""
        if isinstance(exc, db.DatabaseUnavailable):
            raise RunReleased(self.run_context.run_id) from exc
        if not isinstance(exc, DatabaseError | psycopg.Error):
            raise exc
        if connection.in_atomic_block and (db.is_transient(exc) or db.is_conflict(exc)):
            raise exc  # the transaction step retries its whole transaction
        logger.warning(
            "run %s: checkpoint of step %s not written (%s); giving the run back to recovery",
            self.run_context.run_id,
            self.position,
            exc,
        )
        raise RunGivenBack(self.run_context.run_id) from exc

    def _params(self, **outcome: Any) -> dict[str, Any]:
        """The checkpoint of the attempt ending now, as `store.record_step` takes it."""
        return {
            "run_id": self.run_context.run_id,
            "executor_id": self.run_context.executor_id,
            "position": self.position,
            "name": self.step.name,
            "kind": self.step.kind,
            "input": self.step_input.text,
            "input_hash": self.step_input.hash,
            "attempts": self.attempt,
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC),
            "duration_ms": (time.perf_counter() - self.started) * 1000,
            "cpu_ms": observe.cpu_ms(),
            **self.pending_logs(),
            **outcome,
        }


@dataclass(frozen=True)
class HeldCheckpoint:
    """A step's checkpoint held back for the run's end (`StepCall._ends_the_run`)."""

    call: StepCall
    params: dict[str, Any]


def write_held_back(run_context: RunContext) -> None:
    """Write the checkpoint held back for the run's end on its own, as it would have been
    written when its step returned: the run ends otherwise (its output does not serialize,
    a non-determinism error), and the checkpoint goes first."""
    held = run_context.last_checkpoint
    if held is not None:
        run_context.last_checkpoint = None
        held.call._write_checked(held.params)


def finish_with_held_back(run_context: RunContext, output: str) -> bool | None:
    """End the run SUCCESS with `output` in the statement that writes the checkpoint held
    back for it: True if it ended; False if it did not (the run is no longer ours, or it
    was cancelled during the step: it keeps the checkpoint and stays cancelled); None if
    nothing was held back."""
    held = run_context.last_checkpoint
    if held is None:
        return None
    run_context.last_checkpoint = None
    params = held.params
    steps_done, active_ms = run_context.tally.totals()  # before the held step: added there
    with held.call.checkpoint_errors():
        status, ended = store.record_step_and_finish(
            run_id=params["run_id"], executor_id=params["executor_id"],
            position=params["position"], name=params["name"], input=params["input"],
            input_hash=params["input_hash"], output=params["output"],
            attempts=params["attempts"], started_at=params["started_at"],
            finished_at=params["finished_at"], duration_ms=params["duration_ms"],
            cpu_ms=params["cpu_ms"], run_output=output, steps_done=steps_done,
            active_ms=active_ms,
        )  # fmt: skip
    if status is None:
        return False  # no longer ours: as a finish refused
    run_context.stop_if_cancelled(status)
    return ended
