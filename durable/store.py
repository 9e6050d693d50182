"""All SQL on the engine's hot path, one named statement per operation.

Statements run on Django's connection (so `@durable.transaction` steps share the caller's
transaction) in autocommit mode: each function here is one database round trip. The
per-step statements go through `_execute_prepared`: server-side binding lets psycopg
prepare them after a few uses, so PostgreSQL stops parsing and planning them every time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection

from durable.context import RecordedStep


def execute(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _execute_prepared(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Like `execute`, on the same connection and transaction, as a prepared statement:
    parsed and planned once per connection, not once per checkpoint (Django's own cursors
    bind client-side and never prepare)."""
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall() if cursor.description else []


def decode_json(value: Any) -> Any:
    """Django loads jsonb as text; json (from json_agg) may arrive decoded already."""
    return json.loads(value) if isinstance(value, str) else value


INSERT_RUN = """
-- insert_run --
-- Create a run; a conflict on id means it exists, which makes run ids idempotency keys
-- (a conflict on (queue, dedup_id) means an active run already has that de-duplication id)
INSERT INTO durable_run (
    id, workflow, version, status, input, tags, queue, priority, parent_id,
    forked_from_id, forked_from_step, deadline_at, available_at, error_type,
    error_fingerprint, cancel_reason, recovery_count, steps_done, created_at, updated_at,
    dedup_id)
VALUES (
    %(run_id)s, %(workflow)s, %(version)s, 'ENQUEUED', %(input)s::jsonb, %(tags)s::jsonb,
    %(queue)s, %(priority)s, %(parent_id)s, %(forked_from_id)s, %(forked_from_step)s,
    %(deadline_at)s, COALESCE(%(available_at)s, now()), '', '', '', 0, %(steps_done)s,
    now(), now(), %(dedup_id)s)
ON CONFLICT DO NOTHING
RETURNING id
"""


def insert_run(**params: Any) -> bool:
    """True if created, False if the id (or an active run's dedup_id) was taken."""
    params.setdefault("steps_done", 0)
    params.setdefault("dedup_id", None)
    return bool(execute(INSERT_RUN, params))


ACTIVE_DEDUP_RUN = """
-- active_dedup_run --
-- The active run holding a de-duplication id in a queue
SELECT id FROM durable_run
WHERE queue = %(queue)s AND dedup_id = %(dedup_id)s AND status IN ('ENQUEUED', 'RUNNING')
"""


def active_dedup_run(queue: str, dedup_id: str) -> str | None:
    rows = execute(ACTIVE_DEDUP_RUN, {"queue": queue, "dedup_id": dedup_id})
    return rows[0][0] if rows else None


RUN_IDENTITY = """
-- run_identity --
SELECT workflow, parent_id FROM durable_run WHERE id = %(run_id)s
"""


def run_identity(run_id: str) -> tuple[str, str | None] | None:
    """(workflow, parent id) of an existing run: what an id conflict is judged on."""
    rows = execute(RUN_IDENTITY, {"run_id": run_id})
    return (rows[0][0], rows[0][1]) if rows else None


@dataclass(frozen=True)
class ClaimedRun:
    run_id: str
    workflow: str
    version: str
    input: dict[str, Any]
    deadline_at: datetime | None
    recorded: dict[int, RecordedStep]


CLAIM_RUN = """
-- claim_run --
-- Take one due, enqueued run and load its recorded history, in a single round trip
WITH run AS (  -- found by primary key only, then judged (see record_step)
    SELECT id, status, available_at, workflow, version, queue FROM durable_run
    WHERE id = %(run_id)s FOR UPDATE
), claimed AS (
    UPDATE durable_run
    SET status = 'RUNNING', executor_id = %(executor_id)s,
        lease_expires_at = now() + make_interval(secs => %(lease)s),
        started_at = COALESCE(durable_run.started_at, now()), updated_at = now()
    FROM run
    WHERE durable_run.id = run.id AND run.status = 'ENQUEUED' AND run.available_at <= now()
      AND (run.workflow = ANY(%(workflows)s)
           OR run.workflow || '@' || run.version = ANY(%(workflows)s))
      AND NOT (run.queue = ANY(%(exclude_queues)s))
    RETURNING durable_run.id, durable_run.workflow, durable_run.version, durable_run.input,
              durable_run.deadline_at
)
SELECT c.workflow, c.version, c.input, c.deadline_at,
       (SELECT COALESCE(json_agg(json_build_array(
                   s.position, s.name, s.kind, s.status, s.output, s.error)
                   ORDER BY s.position), '[]'::json)
        FROM durable_step s WHERE s.run_id = c.id)
FROM claimed c
"""


def claim_run(
    run_id: str,
    executor_id: str,
    lease: float,
    workflows: list[str],
    exclude_queues: list[str] | None = None,
) -> ClaimedRun | None:
    """`exclude_queues`: queues whose claims must go through `durable.queues` (limits)."""
    params = {
        "run_id": run_id,
        "executor_id": executor_id,
        "lease": lease,
        "workflows": workflows,
        "exclude_queues": exclude_queues or [],
    }
    rows = _execute_prepared(CLAIM_RUN, params)
    if not rows:
        return None
    return claimed_from_row(run_id, rows[0])


def claimed_from_row(run_id: str, row: tuple[Any, ...]) -> ClaimedRun:
    """A ClaimedRun from (workflow, version, input, deadline_at, steps as JSON)."""
    workflow, version, run_input, deadline_at, steps = row
    recorded = {
        position: RecordedStep(position, name, kind, status, output, error)
        for position, name, kind, status, output, error in decode_json(steps)
    }
    return ClaimedRun(run_id, workflow, version, decode_json(run_input), deadline_at, recorded)


RECORD_STEP = """
-- record_step --
-- Write one checkpoint, only while this executor still owns the running run
WITH run AS (
    -- a share lock, not an update: no new run row version per step, yet a cancel or a
    -- recovery (both UPDATEs) waits for this checkpoint's commit, or this sees theirs.
    -- Only the id is searched here, so the plan is always the primary key (a filter on
    -- status/executor_id could tempt the planner onto a partial index of running runs).
    SELECT id, status, executor_id FROM durable_run WHERE id = %(run_id)s FOR SHARE
), owner AS (
    SELECT id FROM run WHERE status = 'RUNNING' AND executor_id = %(executor_id)s
)
INSERT INTO durable_step (
    run_id, position, name, kind, status, input, output, error, error_type,
    error_fingerprint, attempts, started_at, finished_at, duration_ms, cpu_ms)
SELECT id, %(position)s, %(name)s, %(kind)s, %(status)s, %(input)s::jsonb, %(output)s::jsonb,
       %(error)s::jsonb, %(error_type)s, %(error_fingerprint)s, %(attempts)s,
       %(started_at)s, %(finished_at)s, %(duration_ms)s, %(cpu_ms)s
FROM owner
ON CONFLICT (run_id, position) DO NOTHING
RETURNING position
"""


def record_step(**params: Any) -> bool:
    """True if written; False means the run is no longer ours (cancelled or lease lost)."""
    params.setdefault("error", None)
    params.setdefault("error_type", "")
    params.setdefault("error_fingerprint", "")
    params.setdefault("output", None)
    params.setdefault("cpu_ms", 0.0)
    return bool(_execute_prepared(RECORD_STEP, params))


RECORD_ATTEMPT = """
-- record_attempt --
-- Keep a failed attempt (with its timing) the moment it fails, so retries survive crashes;
-- only while this executor still owns the running run (see record_step)
INSERT INTO durable_attempt (
    run_id, position, attempt, name, error, error_type, started_at, finished_at)
SELECT id, %(position)s, %(attempt)s, %(name)s, %(error)s::jsonb, %(error_type)s,
       %(started_at)s, %(finished_at)s
FROM durable_run
WHERE id = %(run_id)s AND status = 'RUNNING' AND executor_id = %(executor_id)s
RETURNING id
"""


def record_attempt(**params: Any) -> bool:
    """True if written; False means the run is no longer ours (cancelled or lease lost)."""
    return bool(_execute_prepared(RECORD_ATTEMPT, params))


FINISH_RUN = """
-- finish_run --
-- Record the run's outcome, only while this executor still owns it
WITH run AS (  -- found by primary key only, then judged (see record_step)
    SELECT id, status, executor_id FROM durable_run WHERE id = %(run_id)s FOR UPDATE
)
UPDATE durable_run
SET status = %(status)s, output = %(output)s::jsonb, error = %(error)s::jsonb,
    error_type = %(error_type)s, error_fingerprint = %(error_fingerprint)s,
    cancel_reason = %(cancel_reason)s,
    steps_done = (SELECT count(*) FROM durable_step s WHERE s.run_id = durable_run.id),
    finished_at = now(), lease_expires_at = NULL, updated_at = now()
FROM run
WHERE durable_run.id = run.id AND run.status = 'RUNNING' AND run.executor_id = %(executor_id)s
RETURNING durable_run.id
"""


def finish_run(**params: Any) -> bool:
    for key in ("output", "error"):
        params.setdefault(key, None)
    params.setdefault("error_type", "")
    params.setdefault("error_fingerprint", "")
    params.setdefault("cancel_reason", "")
    return bool(_execute_prepared(FINISH_RUN, params))


RUN_OUTCOME = """
-- run_outcome --
SELECT status, output, error, cancel_reason FROM durable_run WHERE id = %(run_id)s
"""


def run_outcome(run_id: str) -> tuple[str, Any, Any, str] | None:
    rows = execute(RUN_OUTCOME, {"run_id": run_id})
    if not rows:
        return None
    status, output, error, reason = rows[0]
    return status, decode_json(output), decode_json(error), reason


RUN_OUTCOME_AT = """
-- run_outcome_at --
-- A run's outcome with its end and the database's clock, to judge a recorded deadline
SELECT status, output, error, cancel_reason, finished_at, now()
FROM durable_run WHERE id = %(run_id)s
"""


@dataclass(frozen=True)
class OutcomeAt:
    status: str
    output: Any
    error: Any
    cancel_reason: str
    finished_at: datetime | None
    now: datetime


def run_outcome_at(run_id: str) -> OutcomeAt | None:
    rows = execute(RUN_OUTCOME_AT, {"run_id": run_id})
    if not rows:
        return None
    status, output, error, reason, finished_at, now = rows[0]
    return OutcomeAt(status, decode_json(output), decode_json(error), reason, finished_at, now)


RENEW_LEASES = """
-- renew_leases --
-- Extend the leases of the runs this executor is executing; missing ids were taken from it
UPDATE durable_run SET lease_expires_at = now() + make_interval(secs => %(lease)s)
WHERE id = ANY(%(run_ids)s) AND status = 'RUNNING' AND executor_id = %(executor_id)s
RETURNING id
"""


def renew_leases(executor_id: str, run_ids: list[str], lease: float) -> set[str]:
    if not run_ids:
        return set()
    params = {"executor_id": executor_id, "run_ids": run_ids, "lease": lease}
    return {row[0] for row in execute(RENEW_LEASES, params)}


RECOVER_EXPIRED = """
-- recover_expired --
-- Re-enqueue running runs whose owner died (lease expired); past the limit, park them DEAD
WITH expired AS (
    SELECT id FROM durable_run
    WHERE status = 'RUNNING' AND lease_expires_at < now()
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE durable_run r
SET status = CASE WHEN r.recovery_count >= %(max_recoveries)s THEN 'DEAD' ELSE 'ENQUEUED' END,
    recovery_count = r.recovery_count
        + CASE WHEN r.recovery_count >= %(max_recoveries)s THEN 0 ELSE 1 END,
    finished_at = CASE WHEN r.recovery_count >= %(max_recoveries)s THEN now() END,
    error = CASE WHEN r.recovery_count >= %(max_recoveries)s THEN jsonb_build_object(
        'type', 'durable.errors.RunDeadError',
        'message', format('the run''s executor died %%s times (limit %%s); fix the cause '
                          'and resume the run', r.recovery_count + 1, %(max_recoveries)s),
        'args', jsonb_build_array(), 'traceback', '') ELSE r.error END,
    error_type = CASE WHEN r.recovery_count >= %(max_recoveries)s
        THEN 'durable.errors.RunDeadError' ELSE r.error_type END,
    executor_id = NULL, lease_expires_at = NULL, available_at = now(), updated_at = now(),
    steps_done = (SELECT count(*) FROM durable_step s WHERE s.run_id = r.id)
FROM expired
WHERE r.id = expired.id
RETURNING r.id, r.status
"""


def recover_expired(max_recoveries: int, limit: int = 500) -> list[tuple[str, str]]:
    return execute(RECOVER_EXPIRED, {"max_recoveries": max_recoveries, "limit": limit})


EXPIRE_LEASES_OF = """
-- expire_leases_of --
-- A dead executor's leases end now, so its runs are recovered without waiting them out
UPDATE durable_run SET lease_expires_at = now() - interval '1 second'
WHERE status = 'RUNNING' AND executor_id = ANY(%(executor_ids)s)
"""


def expire_leases_of(executor_ids: list[str]) -> None:
    if executor_ids:
        execute(EXPIRE_LEASES_OF, {"executor_ids": executor_ids})


DUE_RUNS = """
-- due_runs --
-- Enqueued runs that are due and that this executor can run, by priority then age
SELECT id FROM durable_run
WHERE status = 'ENQUEUED' AND available_at <= now()
  AND (workflow = ANY(%(workflows)s) OR workflow || '@' || version = ANY(%(workflows)s))
  AND NOT (queue = ANY(%(exclude_queues)s))
ORDER BY priority DESC, available_at
LIMIT %(limit)s
"""


def due_runs(
    workflows: list[str], limit: int, exclude_queues: list[str] | None = None
) -> list[str]:
    """`exclude_queues`: queues with no free slot, whose backlog would crowd out the rest."""
    if limit <= 0 or not workflows:
        return []
    params = {"workflows": workflows, "limit": limit, "exclude_queues": exclude_queues or []}
    return [row[0] for row in execute(DUE_RUNS, params)]


UNCLAIMABLE_WORKFLOWS = """
-- unclaimable_workflows --
-- Workflows (and code versions) with due runs that this executor cannot run
SELECT workflow, version, count(*) FROM durable_run
WHERE status = 'ENQUEUED' AND available_at <= now()
  AND NOT (workflow = ANY(%(workflows)s) OR workflow || '@' || version = ANY(%(workflows)s))
GROUP BY workflow, version
"""


def unclaimable_workflows(workflows: list[str]) -> list[tuple[str, str, int]]:
    """`workflows` holds names (any version) or "name@version" entries, as in claim_run."""
    return execute(UNCLAIMABLE_WORKFLOWS, {"workflows": workflows})


HEARTBEAT = """
-- heartbeat --
-- Announce a live executor and what it can run (dashboard's workers page, dead-owner checks)
INSERT INTO durable_executor (id, kind, hostname, pid, workflows, started_at, last_seen_at)
VALUES (%(executor_id)s, %(kind)s, %(hostname)s, %(pid)s, %(workflows)s, now(), now())
ON CONFLICT (id) DO UPDATE SET last_seen_at = now(), workflows = EXCLUDED.workflows
"""


def heartbeat(**params: Any) -> None:
    execute(HEARTBEAT, params)


EXECUTORS_ON_HOST = """
-- executors_on_host --
SELECT id, pid FROM durable_executor WHERE hostname = %(hostname)s AND id <> %(executor_id)s
"""


def executors_on_host(hostname: str, executor_id: str) -> list[tuple[str, int]]:
    return execute(EXECUTORS_ON_HOST, {"hostname": hostname, "executor_id": executor_id})


FORGET_EXECUTORS = """
-- forget_executors --
DELETE FROM durable_executor WHERE id = ANY(%(executor_ids)s)
"""


def forget_executors(executor_ids: list[str]) -> None:
    if executor_ids:
        execute(FORGET_EXECUTORS, {"executor_ids": executor_ids})


SUSPEND_RUN = """
-- suspend_run --
-- Give a sleeping run back to the queue until it is due, so no thread waits for it
UPDATE durable_run
SET status = 'ENQUEUED', executor_id = NULL, lease_expires_at = NULL,
    available_at = %(wake_at)s, updated_at = now(),
    steps_done = (SELECT count(*) FROM durable_step s WHERE s.run_id = durable_run.id)
WHERE id = %(run_id)s AND status = 'RUNNING' AND executor_id = %(executor_id)s
"""


def suspend_run(run_id: str, executor_id: str, wake_at: datetime) -> None:
    execute(SUSPEND_RUN, {"run_id": run_id, "executor_id": executor_id, "wake_at": wake_at})


CHILDREN = """
-- children --
SELECT id FROM durable_run WHERE parent_id = %(run_id)s ORDER BY created_at, id
"""


def children(run_id: str) -> list[str]:
    return [row[0] for row in execute(CHILDREN, {"run_id": run_id})]
