"""SQL of step checkpoints and failed attempts: the per-step statements of the hot path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError
from psycopg import errors

from durable.core._serialization import error_from_dict
from durable.core.store._execute import Rows, _execute_once, _execute_prepared, execute

# The checkpoint's write after a `run` CTE (the run row, locked): only while this executor
# owns the run; also the first half of store.RECORD_STEP_AND_FINISH
WITH_WRITTEN = """
), owner AS (
    -- a step that was running when its run was cancelled keeps its checkpoint (the cancel
    -- leaves executor_id in place), so resuming the run does not run that step again
    SELECT id, created_at FROM run
    WHERE status IN ('RUNNING', 'CANCELLED') AND executor_id = %(executor_id)s
), written AS (
INSERT INTO durable_step (
    run_id, position, name, kind, status, input, input_hash, output, error, error_type,
    error_fingerprint, attempts, started_at, finished_at, duration_ms, cpu_ms, run_created_at)
SELECT id, %(position)s, %(name)s, %(kind)s, %(status)s, %(input)s::json, %(input_hash)s,
       %(output)s::json, %(error)s::json, %(error_type)s, %(error_fingerprint)s, %(attempts)s,
       %(started_at)s, %(finished_at)s, %(duration_ms)s, %(cpu_ms)s, created_at
FROM owner
-- no ON CONFLICT: on the partitioned table its arbiter costs a fifth of this statement;
-- a position already recorded raises unique_violation, which record_step reads as refused
RETURNING run_id, position, run_created_at, duration_ms
)"""
# The checkpoint, in two prepared forms: a step that logged nothing (most) does not pay for
# the log insert's plan node; one that logged carries its records in the same round trip
_RECORD_STEP = """
-- record_step --
-- Write one checkpoint, only while this executor still owns the running run
WITH run AS (
    -- a share lock, not an update: no new run row version per step, yet a cancel or a
    -- recovery (both UPDATEs) waits for this checkpoint's commit, or this sees theirs.
    -- Only the id is searched here, so the plan is always the primary key (a filter on
    -- status/executor_id could tempt the planner onto a partial index of running runs).
    SELECT id, status, executor_id, held_at, created_at FROM durable_run
    WHERE id = %(run_id)s FOR SHARE
{written}{logged}
-- the run's status comes back with the write: a CANCELLED one stops at this boundary even
-- if its executor never heard the cancel's notice, a held one (HELD) is given back to the
-- queue here, where no executor claims it until it is released (no extra round trip)
SELECT written.position,
       CASE WHEN run.held_at IS NOT NULL AND run.status = 'RUNNING' THEN 'HELD'
            ELSE run.status END
FROM written, run
"""
STEP_LOGGED = """, logged AS (
    -- the attempt's log records travel with its checkpoint
    INSERT INTO durable_steplog (run_id, position, attempt, records, dropped, run_created_at)
    SELECT run_id, position, %(attempts)s, %(logs)s::jsonb, %(logs_dropped)s, run_created_at
    FROM written
)"""
RECORD_STEP = _RECORD_STEP.format(written=WITH_WRITTEN, logged="")
RECORD_STEP_LOGGED = _RECORD_STEP.format(written=WITH_WRITTEN, logged=STEP_LOGGED)


@dataclass(frozen=True)
class RecordedStep:
    position: int
    name: str
    kind: str
    status: str
    output: Any
    error: dict[str, Any] | None
    input_hash: str = ""
    from_file: bool = False  # of an imported run: its errors are a file's (core/_error_types)

    def replay(self) -> Any:
        """Return the recorded output, or raise the recorded error, as the first run did."""
        if self.status == "ERROR" and self.error is not None:
            raise error_from_dict(self.error, from_file=self.from_file)
        return self.output


STEP_WRITTEN_BY = """
-- step_written_by --
-- After a lost reply: is the checkpoint at this position the one we sent (same owner,
-- same name, status and timing)? Then our write committed and must not be redone
SELECT s.position,
       CASE WHEN r.held_at IS NOT NULL AND r.status = 'RUNNING' THEN 'HELD' ELSE r.status END
FROM durable_step s JOIN durable_run r ON r.id = s.run_id
WHERE s.run_id = %(run_id)s AND s.position = %(position)s AND s.name = %(name)s
  AND s.run_created_at = (SELECT created_at FROM durable_run WHERE id = %(run_id)s)
  AND s.status = %(status)s AND s.attempts = %(attempts)s
  AND s.started_at = %(started_at)s AND s.finished_at = %(finished_at)s
  AND r.status IN ('RUNNING', 'CANCELLED') AND r.executor_id = %(executor_id)s
"""


def record_step(
    *,
    run_id: str,
    executor_id: str,
    position: int,
    name: str,
    kind: str,
    status: str,
    input: str | None,
    attempts: int,
    started_at: datetime,
    finished_at: datetime,
    duration_ms: float,
    input_hash: str = "",
    output: str | None = None,
    error: str | None = None,
    error_type: str = "",
    error_fingerprint: str = "",
    cpu_ms: float = 0.0,
    logs: str | None = None,
    logs_dropped: int = 0,
) -> str | None:
    """The run's status if written: RUNNING, or CANCELLED when the step was in flight at a
    cancel (it keeps its checkpoint, and the run stops here), or HELD when an operator held
    it (it stops here too, and waits to be released); None means the run is no
    longer ours (its lease went to another executor, or it ended).

    A retry after a lost reply first reads the checkpoint back, so a write that did commit
    is recognised as ours instead of looking like another owner's (ON CONFLICT DO NOTHING).
    """
    params = {
        "run_id": run_id, "executor_id": executor_id, "position": position, "name": name,
        "kind": kind, "status": status, "input": input, "input_hash": input_hash,
        "output": output, "error": error, "error_type": error_type,
        "error_fingerprint": error_fingerprint, "attempts": attempts,
        "started_at": started_at, "finished_at": finished_at, "duration_ms": duration_ms,
        "cpu_ms": cpu_ms, "logs": logs, "logs_dropped": logs_dropped,
    }  # fmt: skip
    statement = RECORD_STEP if logs is None else RECORD_STEP_LOGGED
    try:
        rows = _execute_prepared(statement, params, settle=lambda: step_written_by(params))
    except IntegrityError as exc:
        if not _position_taken(exc):
            raise
        return None  # refused, as ON CONFLICT DO NOTHING would (inside a transaction step,
        # the caller's RunInterrupted rolls the aborted transaction back)
    return rows[0][1] if rows else None


def _position_taken(exc: IntegrityError) -> bool:
    """The checkpoint's position already holds one: a unique violation on durable_step or
    one of its partitions (named durable_step_<suffix>; durable_steplog's are not)."""
    cause = exc.__cause__
    if not isinstance(cause, errors.UniqueViolation):
        return False
    table = cause.diag.table_name or ""
    return table == "durable_step" or table.startswith("durable_step_")


def step_written_by(params: dict[str, Any]) -> Rows | None:
    """The checkpoint row if `params` (a record_step write) committed, else None."""
    return _execute_once(STEP_WRITTEN_BY, params) or None


RECORDED_STEP = """
-- recorded_step --
-- A checkpoint of a run this executor owns (settles a commit whose reply was lost)
SELECT s.position, s.name, s.kind, s.status, s.output, s.error, s.input_hash, r.imported
FROM durable_step s JOIN durable_run r ON r.id = s.run_id
WHERE s.run_id = %(run_id)s AND s.position = %(position)s
  AND s.run_created_at = (SELECT created_at FROM durable_run WHERE id = %(run_id)s)
  AND r.status IN ('RUNNING', 'CANCELLED') AND r.executor_id = %(executor_id)s
"""


def recorded_step(run_id: str, position: int, executor_id: str) -> RecordedStep | None:
    params = {"run_id": run_id, "position": position, "executor_id": executor_id}
    rows = _execute_once(RECORDED_STEP, params)
    if not rows:
        return None
    return RecordedStep(*rows[0])  # json columns arrive decoded


STEP_INPUT = """
-- step_input --
-- A recorded entry's input as written, shown when a replay passes another one
SELECT input::text FROM durable_step
WHERE run_id = %(run_id)s AND position = %(position)s
  AND run_created_at = (SELECT created_at FROM durable_run WHERE id = %(run_id)s)
"""


def step_input(run_id: str, position: int) -> str | None:
    rows = execute(STEP_INPUT, {"run_id": run_id, "position": position})
    return rows[0][0] if rows else None


RUN_HELD = """
-- run_held --
-- Before a failing step's next attempt: did an operator hold the run? (a failing step
-- writes no checkpoint, whose reply says HELD; one read per retry, none per step)
SELECT held_at IS NOT NULL FROM durable_run WHERE id = %(run_id)s
"""


def run_held(run_id: str) -> bool:
    rows = execute(RUN_HELD, {"run_id": run_id})
    return bool(rows and rows[0][0])


RECORD_ATTEMPT = """
-- record_attempt --
-- Keep a failed attempt (with its timing) the moment it fails, so retries survive crashes;
-- only while this executor still owns the running run (see record_step)
WITH run AS (
    -- the share lock of record_step: a recovery or a cancel in flight is waited for, and
    -- the owner is checked on the row it committed, not on the snapshot taken before it
    SELECT id, status, executor_id, created_at FROM durable_run
    WHERE id = %(run_id)s FOR SHARE
), written AS (
INSERT INTO durable_attempt (
    run_id, position, attempt, name, error, error_type, error_fingerprint, final, started_at,
    finished_at, run_created_at)
SELECT id, %(position)s, %(attempt)s, %(name)s, %(error)s::json, %(error_type)s,
       %(error_fingerprint)s, %(final)s, %(started_at)s, %(finished_at)s, created_at
FROM run
WHERE status = 'RUNNING' AND executor_id = %(executor_id)s
RETURNING id, run_id, run_created_at
), logged AS (
    -- the attempt's log records travel with it (NULL: it logged nothing)
    INSERT INTO durable_steplog (run_id, position, attempt, records, dropped, run_created_at)
    SELECT run_id, %(position)s, %(attempt)s, %(logs)s::jsonb, %(logs_dropped)s, run_created_at
    FROM written WHERE %(logs)s::jsonb IS NOT NULL
)
SELECT id FROM written
"""


ATTEMPT_WRITTEN_BY = """
-- attempt_written_by --
-- After a lost reply: is the attempt at this position and number, with our timing, there?
-- Then our write committed and must not be redone (a second row would count its time twice)
SELECT a.id FROM durable_attempt a
WHERE a.run_id = %(run_id)s AND a.position = %(position)s AND a.attempt = %(attempt)s
  AND a.run_created_at = (SELECT created_at FROM durable_run WHERE id = %(run_id)s)
  AND a.started_at = %(started_at)s AND a.finished_at = %(finished_at)s
"""


def record_attempt(
    *,
    run_id: str,
    executor_id: str,
    position: int,
    attempt: int,
    name: str,
    error: str,
    error_type: str,
    started_at: datetime,
    finished_at: datetime,
    error_fingerprint: str = "",
    final: bool = False,
    logs: str | None = None,
    logs_dropped: int = 0,
) -> bool:
    """True if written; False means the run is no longer ours (cancelled or lease lost).
    A retry after a lost reply first reads the attempt back, as record_step does."""
    params = {
        "run_id": run_id, "executor_id": executor_id, "position": position,
        "attempt": attempt, "name": name, "error": error, "error_type": error_type,
        "error_fingerprint": error_fingerprint, "final": final, "started_at": started_at,
        "finished_at": finished_at, "logs": logs, "logs_dropped": logs_dropped,
    }  # fmt: skip
    settle = lambda: _execute_once(ATTEMPT_WRITTEN_BY, params) or None  # noqa: E731
    return bool(_execute_prepared(RECORD_ATTEMPT, params, settle=settle))
