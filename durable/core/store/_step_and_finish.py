"""SQL of a run's last checkpoint written with its end: a workflow that returns right after
its last step (`durable.core._last_step` says when) records that step and finishes the run
in one round trip (split from `_runs`, which creates, claims and finishes runs)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError

from durable.core.store._channels import FINISH_CHANNEL
from durable.core.store._durations import TOTALS_AT_END_SQL
from durable.core.store._execute import _execute_once, _execute_prepared
from durable.core.store._steps import WITH_WRITTEN, _position_taken

RECORD_STEP_AND_FINISH = (
    """
-- record_step_and_finish --
-- A workflow that returns right after its last step (durable.core._steps says when): that
-- step's checkpoint and the run's SUCCESS in one round trip. The checkpoint is written as
-- record_step writes it (while this executor owns the run, RUNNING or CANCELLED); the end
-- as finish_run writes it, only with the checkpoint and only while the run is RUNNING (a
-- run cancelled during the step keeps the checkpoint and stays CANCELLED, as before)
WITH run AS (  -- found by primary key only, then judged (see record_step)
    SELECT id, status, executor_id, created_at, claimed_at = created_at AS started_here
    FROM durable_run WHERE id = %(run_id)s FOR UPDATE
"""
    + WITH_WRITTEN
    + """, finished AS (
UPDATE durable_run
SET status = 'SUCCESS', output = %(run_output)s::json, error = NULL, error_type = '',
    error_fingerprint = '', cancel_reason = '',
    -- the totals as finish_run sums them, plus this checkpoint, which the statement's own
    -- snapshot does not show them
    (steps_done, active_ms) = (
        SELECT totals.steps + 1,
               totals.active_ms + CASE WHEN w.position >= coalesce(durable_run.forked_from_step, 0)
                                       THEN w.duration_ms ELSE 0 END
        FROM """
    + TOTALS_AT_END_SQL.format(run="durable_run")
    + """ totals),
    finished_at = now(), lease_expires_at = NULL, updated_at = now()
FROM run, written w
WHERE durable_run.id = run.id AND run.status = 'RUNNING' AND run.executor_id = %(executor_id)s
RETURNING durable_run.id
)
SELECT written.position, run.status, finished.id,
       CASE WHEN finished.id IS NOT NULL AND run.started_here IS NOT TRUE
            THEN pg_notify('"""
    + FINISH_CHANNEL
    + """', finished.id) END
FROM written CROSS JOIN run LEFT JOIN finished ON true
"""
)

FINISHED_WITH_STEP_BY = """
-- finished_with_step_by --
-- After a lost reply: did our record_step_and_finish commit? (the checkpoint at this
-- position with our timing, and the run ended SUCCESS by this executor)
SELECT s.position, 'RUNNING', r.id, NULL
FROM durable_step s JOIN durable_run r ON r.id = s.run_id AND r.created_at = s.run_created_at
WHERE s.run_id = %(run_id)s AND s.position = %(position)s AND s.name = %(name)s
  AND s.started_at = %(started_at)s AND s.finished_at = %(finished_at)s
  AND r.status = 'SUCCESS' AND r.executor_id = %(executor_id)s
"""


def record_step_and_finish(
    *,
    run_id: str,
    executor_id: str,
    position: int,
    name: str,
    input: str | None,
    input_hash: str,
    output: str,
    attempts: int,
    started_at: datetime,
    finished_at: datetime,
    duration_ms: float,
    cpu_ms: float,
    run_output: str,
    steps_done: int | None = None,
    active_ms: float | None = None,
) -> tuple[str | None, bool]:
    """Write a quiet step's SUCCESS checkpoint and end the run SUCCESS with `run_output`,
    in one round trip: (the run's status as record_step returns it, whether the run ended).
    (None, False): not written, the run is no longer ours; ("CANCELLED", False): the
    checkpoint is written and the run stays cancelled. `steps_done` and `active_ms`: the
    history's totals before this step as the execution kept them, if it knows them."""
    params = {
        "run_id": run_id, "executor_id": executor_id, "position": position, "name": name,
        "kind": "step", "status": "SUCCESS", "input": input, "input_hash": input_hash,
        "output": output, "error": None, "error_type": "", "error_fingerprint": "",
        "attempts": attempts, "started_at": started_at, "finished_at": finished_at,
        "duration_ms": duration_ms, "cpu_ms": cpu_ms, "run_output": run_output,
        "steps_done": steps_done, "active_ms": active_ms,
    }  # fmt: skip
    settle = lambda: _execute_once(FINISHED_WITH_STEP_BY, params) or None  # noqa: E731
    try:
        rows = _execute_prepared(RECORD_STEP_AND_FINISH, params, settle=settle)
    except IntegrityError as exc:
        if not _position_taken(exc):
            raise
        return None, False  # refused, as record_step refuses it: neither write happened
    if not rows:
        return None, False
    _, status, finished, _ = rows[0]
    return status, finished is not None
