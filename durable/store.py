"""All SQL on the engine's hot path, one named statement per operation.

Statements run on Django's connection (so `@durable.transaction` steps share the caller's
transaction) in autocommit mode: each function here is one database round trip. The
per-step statements go through `_execute_prepared`: server-side binding lets psycopg
prepare them after a few uses, so PostgreSQL stops parsing and planning them every time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection

from durable import db
from durable.context import RecordedStep
from durable.durations import ACTIVE_MS_SQL

Rows = list[tuple[Any, ...]]


def execute(
    sql: str, params: dict[str, Any], settle: Callable[[], Rows | None] | None = None
) -> Rows:
    """One statement; a lost connection is retried in place (`durable.db.retrying`)."""
    return db.retrying(lambda: _execute_once(sql, params), what=sql, settle=settle)


def _execute_once(sql: str, params: dict[str, Any]) -> Rows:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _execute_prepared(
    sql: str, params: dict[str, Any], settle: Callable[[], Rows | None] | None = None
) -> Rows:
    """Like `execute`, on the same connection and transaction, as a prepared statement:
    parsed and planned once per connection, not once per checkpoint (Django's own cursors
    bind client-side and never prepare)."""
    return db.retrying(lambda: _prepared_once(sql, params), what=sql, settle=settle)


def _prepared_once(sql: str, params: dict[str, Any]) -> Rows:
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall() if cursor.description else []


INSERT_RUN = """
-- insert_run --
-- Create a run; a conflict on id means it exists, which makes run ids idempotency keys
-- (a conflict on (queue, dedup_id) means an active run already has that de-duplication id);
-- a delayed start is due at `available_at`, one in the past at once (GREATEST skips NULL)
INSERT INTO durable_run (
    id, workflow, version, status, input, tags, queue, priority, parent_id,
    forked_from_id, forked_from_step, deadline_at, available_at, error_type,
    error_fingerprint, cancel_reason, recovery_count, steps_done, created_at, updated_at,
    dedup_id, max_recoveries, timeout_seconds)
VALUES (
    %(run_id)s, %(workflow)s, %(version)s, 'ENQUEUED', %(input)s::json, %(tags)s::jsonb,
    %(queue)s, %(priority)s, %(parent_id)s, %(forked_from_id)s, %(forked_from_step)s,
    %(deadline_at)s, GREATEST(%(available_at)s::timestamptz, now()), '', '', '', 0,
    %(steps_done)s, now(), now(), %(dedup_id)s, %(max_recoveries)s, %(timeout_seconds)s)
ON CONFLICT DO NOTHING
RETURNING id
"""


ENQUEUED_RUN_OF = """
-- enqueued_run_of --
-- After a lost reply: an enqueued run of this workflow with this id is taken as ours (at
-- worst it is dispatched twice, which the lease makes harmless)
SELECT id FROM durable_run
WHERE id = %(run_id)s AND workflow = %(workflow)s AND status = 'ENQUEUED'
"""


def insert_run(**params: Any) -> bool:
    """True if created, False if the id (or an active run's dedup_id) was taken."""
    params.setdefault("steps_done", 0)
    params.setdefault("dedup_id", None)
    params.setdefault("max_recoveries", None)
    params.setdefault("timeout_seconds", None)
    settle = lambda: _execute_once(ENQUEUED_RUN_OF, params) or None  # noqa: E731
    return bool(execute(INSERT_RUN, params, settle=settle))


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
    prior_attempts: dict[int, int]
    attempts_before_resume: int
    deaths: dict[int, int] = field(default_factory=dict)  # lost attempts since the resume


CLAIMED_HISTORY = """
       (SELECT COALESCE(json_agg(json_build_array(
                   s.position, s.name, s.kind, s.status, s.output, s.error, s.input_hash)
                   ORDER BY s.position), '[]'::json)
        FROM durable_step s WHERE s.run_id = c.id),
       -- at positions without a checkpoint (the step a resume or a recovery runs again):
       -- the highest attempt number used there, failed or lost to an executor's death, so
       -- numbers go on from it, and the deaths there since the last resume (no retries)
       (SELECT COALESCE(json_object_agg(u.position, u.used), '{}'::json) FROM (
            SELECT tried.position, json_build_array(max(tried.attempt), sum(tried.deaths)) AS used
            FROM (SELECT a.position, a.attempt, 0 AS deaths FROM durable_attempt a
                  WHERE a.run_id = c.id
                  UNION ALL
                  SELECT lost.key::int, (lost.value ->> 0)::int, (lost.value ->> 1)::int
                  FROM jsonb_each(c.lost_attempts) lost) tried
            WHERE NOT EXISTS (SELECT 1 FROM durable_step s
                              WHERE s.run_id = c.id AND s.position = tried.position)
            GROUP BY tried.position) u),
       c.attempts_before_resume
"""


# A run started by name without a version (`durable.client.start`) is served by any
# executor that has the workflow: the first one to claim it stamps its own code version
# here (from its "name@version" key), so recoveries and resumes replay on that same code.
# (Code versions hold no "@"; a workflow's name may.)
STAMP_VERSION = """CASE WHEN run.version <> '' THEN run.version ELSE COALESCE((
        SELECT key_version FROM unnest(%(workflows)s::text[]) key,
            substr(key, length(run.workflow) + 2) key_version
        WHERE left(key, length(run.workflow) + 1) = run.workflow || '@'
          AND key_version <> '' AND strpos(key_version, '@') = 0
        LIMIT 1), '') END"""

# A queue whose runs the queue claim takes (durable.queues): it has stored limits or priority
QUEUE_CLAIMS_APART = """(q.concurrency IS NOT NULL OR q.worker_concurrency IS NOT NULL
                 OR q.rate_count IS NOT NULL OR q.priority)"""

CLAIM_RUN = (
    """
-- claim_run --
-- Take one due, enqueued run and load its recorded history, in a single round trip
WITH run AS (  -- found by primary key only, then judged (see record_step)
    SELECT id, status, available_at, workflow, version, queue FROM durable_run
    WHERE id = %(run_id)s FOR UPDATE
), claimed AS (
    UPDATE durable_run
    SET status = 'RUNNING', executor_id = %(executor_id)s,
        lease_expires_at = now() + make_interval(secs => %(lease)s),
        started_at = COALESCE(durable_run.started_at, now()), updated_at = now(),
        version = """
    + STAMP_VERSION
    + """
    FROM run
    WHERE durable_run.id = run.id AND run.status = 'ENQUEUED' AND run.available_at <= now()
      AND (run.workflow = ANY(%(workflows)s)
           OR run.workflow || '@' || run.version = ANY(%(workflows)s))
      AND NOT EXISTS (  -- a queue with stored limits or priority: durable.queues claims
          SELECT 1 FROM durable_queue q WHERE q.name = run.queue AND """
    + QUEUE_CLAIMS_APART
    + """)
    RETURNING durable_run.id, durable_run.workflow, durable_run.version, durable_run.input,
              durable_run.deadline_at, durable_run.attempts_before_resume,
              durable_run.lost_attempts
)
SELECT c.workflow, c.version, c.input, c.deadline_at,"""
    + CLAIMED_HISTORY
    + """FROM claimed c
"""
)


def claim_run(
    run_id: str, executor_id: str, lease: float, workflows: list[str]
) -> ClaimedRun | None:
    """Refuses runs of queues with stored limits or priority: `durable.queues` claims them."""
    params = {"run_id": run_id, "executor_id": executor_id, "lease": lease, "workflows": workflows}
    settle = lambda: _execute_once(CLAIMED_BY, params) or None  # noqa: E731
    rows = _execute_prepared(CLAIM_RUN, params, settle=settle)
    if not rows:
        return None
    return claimed_from_row(run_id, rows[0])


CLAIMED_BY = (
    """
-- claimed_by --
-- After a lost reply: if our claim did commit, the run is RUNNING and ours; load it as
-- claim_run would, instead of leaving it to wait out a lease we never renew
SELECT c.workflow, c.version, c.input, c.deadline_at,"""
    + CLAIMED_HISTORY
    + """
FROM durable_run c
WHERE c.id = %(run_id)s AND c.status = 'RUNNING' AND c.executor_id = %(executor_id)s
"""
)


def claimed_from_row(run_id: str, row: tuple[Any, ...]) -> ClaimedRun:
    """A ClaimedRun from (workflow, version, input, deadline_at, CLAIMED_HISTORY's columns)."""
    workflow, version, run_input, deadline_at, steps, attempts, attempts_before_resume = row
    # psycopg decodes `json` values itself (json.loads: key order and number types kept)
    recorded = {entry[0]: RecordedStep(*entry) for entry in steps}
    prior_attempts = {int(position): used for position, (used, _) in attempts.items()}
    deaths = {int(position): int(died) for position, (_, died) in attempts.items() if died}
    return ClaimedRun(
        run_id,
        workflow,
        version,
        run_input,
        deadline_at,
        recorded,
        prior_attempts,
        attempts_before_resume,
        deaths,
    )


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
    -- a step that was running when its run was cancelled keeps its checkpoint (the cancel
    -- leaves executor_id in place), so resuming the run does not run that step again
    SELECT id FROM run WHERE status IN ('RUNNING', 'CANCELLED') AND executor_id = %(executor_id)s
), written AS (
INSERT INTO durable_step (
    run_id, position, name, kind, status, input, input_hash, output, error, error_type,
    error_fingerprint, attempts, started_at, finished_at, duration_ms, cpu_ms)
SELECT id, %(position)s, %(name)s, %(kind)s, %(status)s, %(input)s::json, %(input_hash)s,
       %(output)s::json, %(error)s::json, %(error_type)s, %(error_fingerprint)s, %(attempts)s,
       %(started_at)s, %(finished_at)s, %(duration_ms)s, %(cpu_ms)s
FROM owner
ON CONFLICT (run_id, position) DO NOTHING
RETURNING position
)
-- the run's status comes back with the write: a CANCELLED one stops at this boundary even
-- if its executor never heard the cancel's notice (no extra round trip)
SELECT written.position, run.status FROM written, run
"""


STEP_WRITTEN_BY = """
-- step_written_by --
-- After a lost reply: is the checkpoint at this position the one we sent (same owner,
-- same name, status and timing)? Then our write committed and must not be redone
SELECT s.position, r.status FROM durable_step s JOIN durable_run r ON r.id = s.run_id
WHERE s.run_id = %(run_id)s AND s.position = %(position)s AND s.name = %(name)s
  AND s.status = %(status)s AND s.attempts = %(attempts)s
  AND s.started_at = %(started_at)s AND s.finished_at = %(finished_at)s
  AND r.status IN ('RUNNING', 'CANCELLED') AND r.executor_id = %(executor_id)s
"""


def record_step(**params: Any) -> str | None:
    """The run's status if written: RUNNING, or CANCELLED when the step was in flight at a
    cancel (it keeps its checkpoint, and the run stops here); None means the run is no
    longer ours (its lease went to another executor, or it ended).

    A retry after a lost reply first reads the checkpoint back, so a write that did commit
    is recognised as ours instead of looking like another owner's (ON CONFLICT DO NOTHING).
    """
    params.setdefault("error", None)
    params.setdefault("error_type", "")
    params.setdefault("error_fingerprint", "")
    params.setdefault("final", False)
    params.setdefault("output", None)
    params.setdefault("input_hash", "")
    params.setdefault("cpu_ms", 0.0)
    rows = _execute_prepared(RECORD_STEP, params, settle=lambda: step_written_by(params))
    return rows[0][1] if rows else None


def step_written_by(params: dict[str, Any]) -> Rows | None:
    """The checkpoint row if `params` (a record_step write) committed, else None."""
    return _execute_once(STEP_WRITTEN_BY, params) or None


RECORDED_STEP = """
-- recorded_step --
-- A checkpoint of a run this executor owns (settles a commit whose reply was lost)
SELECT s.position, s.name, s.kind, s.status, s.output, s.error, s.input_hash
FROM durable_step s JOIN durable_run r ON r.id = s.run_id
WHERE s.run_id = %(run_id)s AND s.position = %(position)s
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
SELECT input::text FROM durable_step WHERE run_id = %(run_id)s AND position = %(position)s
"""


def step_input(run_id: str, position: int) -> str | None:
    rows = execute(STEP_INPUT, {"run_id": run_id, "position": position})
    return rows[0][0] if rows else None


RECORD_ATTEMPT = """
-- record_attempt --
-- Keep a failed attempt (with its timing) the moment it fails, so retries survive crashes;
-- only while this executor still owns the running run (see record_step)
INSERT INTO durable_attempt (
    run_id, position, attempt, name, error, error_type, error_fingerprint, final, started_at,
    finished_at)
SELECT id, %(position)s, %(attempt)s, %(name)s, %(error)s::json, %(error_type)s,
       %(error_fingerprint)s, %(final)s, %(started_at)s, %(finished_at)s
FROM durable_run
WHERE id = %(run_id)s AND status = 'RUNNING' AND executor_id = %(executor_id)s
RETURNING id
"""


def record_attempt(**params: Any) -> bool:
    """True if written; False means the run is no longer ours (cancelled or lease lost)."""
    params.setdefault("error_fingerprint", "")
    params.setdefault("final", False)
    return bool(_execute_prepared(RECORD_ATTEMPT, params))


FINISH_RUN = (
    """
-- finish_run --
-- Record the run's outcome, only while this executor still owns it
WITH run AS (  -- found by primary key only, then judged (see record_step)
    SELECT id, status, executor_id FROM durable_run WHERE id = %(run_id)s FOR UPDATE
)
UPDATE durable_run
SET status = %(status)s, output = %(output)s::json, error = %(error)s::json,
    error_type = %(error_type)s, error_fingerprint = %(error_fingerprint)s,
    cancel_reason = %(cancel_reason)s,
    steps_done = (SELECT count(*) FROM durable_step s WHERE s.run_id = durable_run.id),
    active_ms = """
    + ACTIVE_MS_SQL.format(run="durable_run")
    + """,
    finished_at = now(), lease_expires_at = NULL, updated_at = now()
FROM run
WHERE durable_run.id = run.id AND run.status = 'RUNNING' AND run.executor_id = %(executor_id)s
RETURNING durable_run.id
"""
)


def finish_run(**params: Any) -> bool:
    for key in ("output", "error"):
        params.setdefault(key, None)
    params.setdefault("error_type", "")
    params.setdefault("error_fingerprint", "")
    params.setdefault("final", False)
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
    return status, output, error, reason


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
    return OutcomeAt(status, output, error, reason, finished_at, now)  # json: decoded


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


RECOVER_EXPIRED = (
    """
-- recover_expired --
-- Re-enqueue running runs whose owner died (lease expired); past the limit (the run's own
-- max_recoveries, else the setting's), park them DEAD
WITH expired AS (
    SELECT id, COALESCE(max_recoveries, %(max_recoveries)s) AS max_recoveries FROM durable_run
    WHERE status = 'RUNNING' AND lease_expires_at < now()
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE durable_run r
SET status = CASE WHEN r.recovery_count >= expired.max_recoveries THEN 'DEAD' ELSE 'ENQUEUED' END,
    recovery_count = r.recovery_count
        + CASE WHEN r.recovery_count >= expired.max_recoveries THEN 0 ELSE 1 END,
    finished_at = CASE WHEN r.recovery_count >= expired.max_recoveries THEN now() END,
    active_ms = CASE WHEN r.recovery_count >= expired.max_recoveries THEN """
    + ACTIVE_MS_SQL.format(run="r")
    + """ END,
    error = CASE WHEN r.recovery_count >= expired.max_recoveries THEN json_build_object(
        'type', 'durable.errors.RunDeadError',
        'message', format('the run''s executor died %%s times (limit %%s); fix the cause '
                          'and resume the run', r.recovery_count + 1, expired.max_recoveries),
        'args', json_build_array(), 'traceback', '') ELSE r.error END,
    error_type = CASE WHEN r.recovery_count >= expired.max_recoveries
        THEN 'durable.errors.RunDeadError' ELSE r.error_type END,
    executor_id = NULL, lease_expires_at = NULL, available_at = now(), updated_at = now(),
    steps_done = (SELECT count(*) FROM durable_step s WHERE s.run_id = r.id),
    -- the attempt the death cut short, at the first position without a checkpoint: it
    -- takes the next attempt number there, so the step run again gets the one after it
    lost_attempts = r.lost_attempts || (
        SELECT jsonb_build_object(f.position::text, jsonb_build_array(
            GREATEST((SELECT max(a.attempt) FROM durable_attempt a
                      WHERE a.run_id = r.id AND a.position = f.position),
                     (r.lost_attempts -> f.position::text ->> 0)::int, 0) + 1,
            COALESCE((r.lost_attempts -> f.position::text ->> 1)::int, 0) + 1))
        FROM (SELECT min(g) AS position
              FROM generate_series(0, (SELECT count(*) FROM durable_step s
                                       WHERE s.run_id = r.id)::int) g
              WHERE NOT EXISTS (SELECT 1 FROM durable_step s
                                WHERE s.run_id = r.id AND s.position = g)) f)
FROM expired
WHERE r.id = expired.id
RETURNING r.id, r.status
"""
)


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
RETURNING draining, EXTRACT(EPOCH FROM drain_release_at - now())
"""


def heartbeat(**params: Any) -> tuple[bool, float | None]:
    """(draining, seconds until runs in flight are released): an operator's drain, read
    back by the same statement, so a missed notification is noticed within a renewal."""
    draining, release_in = execute(HEARTBEAT, params)[0]
    return draining, None if release_in is None else float(release_in)


STALE_EXECUTORS = """
-- stale_executors --
-- Executors whose last heartbeat is older than a lease: dead, wherever they ran
SELECT id FROM durable_executor
WHERE id <> %(executor_id)s AND last_seen_at < now() - make_interval(secs => %(lease)s)
"""


def stale_executors(executor_id: str, lease: float) -> list[str]:
    rows = execute(STALE_EXECUTORS, {"executor_id": executor_id, "lease": lease})
    return [row[0] for row in rows]


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


RELEASE_RUNS = """
-- release_runs --
-- Give runs back to the queue at once (shutdown, a long database outage): no recovery is
-- counted and any executor may claim them now; updated_at just before available_at marks
-- them "due, no message sent", so a Celery sweep dispatches them on its next pass
UPDATE durable_run
SET status = 'ENQUEUED', executor_id = NULL, lease_expires_at = NULL, available_at = now(),
    updated_at = now() - interval '1 millisecond',
    steps_done = (SELECT count(*) FROM durable_step s WHERE s.run_id = durable_run.id)
WHERE id = ANY(%(run_ids)s) AND status = 'RUNNING' AND executor_id = %(executor_id)s
RETURNING id
"""


def release_runs(run_ids: list[str], executor_id: str) -> list[str]:
    """The runs released (those still owned by `executor_id`)."""
    if not run_ids:
        return []
    params = {"run_ids": run_ids, "executor_id": executor_id}
    return [row[0] for row in execute(RELEASE_RUNS, params)]


MARK_UNDISPATCHED = """
-- mark_undispatched --
-- A run whose message could not be sent (broker down): the sweep sends it on its next pass
UPDATE durable_run SET updated_at = available_at - interval '1 millisecond'
WHERE id = %(run_id)s AND status = 'ENQUEUED'
"""


def mark_undispatched(run_id: str) -> None:
    execute(MARK_UNDISPATCHED, {"run_id": run_id})


NOTIFY_CANCELLED = """
-- notify_cancelled --
-- Tell executors at once (delivered when the cancel commits): they stop the run before its
-- next step, instead of hearing of it at their next lease renewal
SELECT pg_notify('durable_cancel', id) FROM unnest(%(run_ids)s::text[]) AS id
"""


def notify_cancelled(run_ids: list[str]) -> None:
    if run_ids:
        execute(NOTIFY_CANCELLED, {"run_ids": run_ids})


CANCEL_ACK_CHANNEL = "durable_cancel_ack"  # payload: "<run id> <executor id>"

ACKNOWLEDGE_CANCELS = """
-- acknowledge_cancels --
-- An executor confirms it heard the cancels of runs it executes: no new step of them starts
SELECT pg_notify('durable_cancel_ack', id || ' ' || %(executor_id)s)
FROM unnest(%(run_ids)s::text[]) AS id
"""


def acknowledge_cancels(executor_id: str, run_ids: list[str]) -> None:
    if run_ids:
        execute(ACKNOWLEDGE_CANCELS, {"executor_id": executor_id, "run_ids": run_ids})


STOPPING_OWNERS = """
-- stopping_owners --
-- The cancelled runs among `run_ids` that were running (the cancel leaves their executor
-- in place), each with its executor and whether that executor's heartbeat is recent
SELECT r.id, r.executor_id, COALESCE(
    e.last_seen_at >= now() - make_interval(secs => %(lease)s), false)
FROM durable_run r LEFT JOIN durable_executor e ON e.id = r.executor_id
WHERE r.id = ANY(%(run_ids)s) AND r.status = 'CANCELLED' AND r.executor_id IS NOT NULL
"""


def stopping_owners(run_ids: list[str], lease: float) -> list[tuple[str, str, bool]]:
    """(run id, executor id, alive) of the cancelled runs among `run_ids` that had an owner."""
    if not run_ids:
        return []
    return execute(STOPPING_OWNERS, {"run_ids": run_ids, "lease": lease})


CHILDREN = """
-- children --
SELECT id FROM durable_run WHERE parent_id = %(run_id)s ORDER BY created_at, id
"""


def children(run_id: str) -> list[str]:
    return [row[0] for row in execute(CHILDREN, {"run_id": run_id})]
