"""SQL of runs: create, claim, finish, suspend and release them, read their outcome.

One named statement per operation. Statements run on Django's connection (so
`@durable.transaction` steps share the caller's transaction) in autocommit mode: each
function here is one database round trip. The per-step statements go through
`_execute_prepared`: server-side binding lets psycopg prepare them after a few uses, so
PostgreSQL stops parsing and planning them every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from durable.core.store._channels import CANCEL_CHANNEL, FINISH_CHANNEL
from durable.core.store._durations import STEPS_DONE_SQL, TOTALS_AT_END_SQL
from durable.core.store._execute import _execute_once, _execute_prepared, execute
from durable.core.store._steps import RecordedStep

# A queue whose runs the queue claim takes (durable.queues): it has stored limits or priority
QUEUE_CLAIMS_APART = """(q.concurrency IS NOT NULL OR q.worker_concurrency IS NOT NULL
                 OR q.rate_count IS NOT NULL OR q.priority)"""

INSERT_RUN = (
    """
-- insert_run --
-- Create a run; a conflict on id means it exists, which makes run ids idempotency keys
-- (a conflict on (queue, dedup_id) means an active run already has that de-duplication id).
-- Due at `due_at` or now (GREATEST skips NULL); the deadline `timeout` seconds after that,
-- never past the parent's (LEAST skips NULL): the deadline rule of durable.core._creation.
-- With `executor_id` (a thread executor in the starting process with a thread held for it)
-- a run due now, of a queue claim_run may take, is inserted already claimed by it: RUNNING,
-- its lease, as claim_run would have left it; otherwise it is ENQUEUED for a claim
INSERT INTO durable_run (
    id, workflow, version, status, input, tags, queue, priority, parent_id,
    forked_from_id, forked_from_step, deadline_at, available_at, error_type,
    error_fingerprint, cancel_reason, recovery_count, steps_done, created_at, updated_at,
    dedup_id, max_recoveries, timeout_seconds, executor_id, lease_expires_at, started_at,
    claimed_at)
SELECT
    %(run_id)s, %(workflow)s, %(version)s,
    CASE WHEN here.claimed THEN 'RUNNING' ELSE 'ENQUEUED' END,
    %(input)s::json, %(tags)s::jsonb,
    %(queue)s, %(priority)s, %(parent_id)s, %(forked_from_id)s, %(forked_from_step)s,
    deadline.at, due.at, '', '', '', 0, %(steps_done)s, now(), now(), %(dedup_id)s,
    %(max_recoveries)s,
    CASE WHEN deadline.at IS NOT NULL
        THEN GREATEST(extract(epoch FROM deadline.at - due.at)::float8, 0) END,
    CASE WHEN here.claimed THEN %(executor_id)s END,
    CASE WHEN here.claimed THEN now() + make_interval(secs => %(lease)s::float8) END,
    CASE WHEN here.claimed THEN now() END,
    CASE WHEN here.claimed THEN now() END
FROM (SELECT GREATEST(%(due_at)s::timestamptz, now()) AS at) due
CROSS JOIN LATERAL (
    SELECT LEAST(due.at + make_interval(secs => %(timeout)s::float8),
                 %(parent_deadline)s::timestamptz) AS at) deadline
CROSS JOIN LATERAL (
    SELECT %(executor_id)s::text IS NOT NULL AND due.at <= now()
       AND NOT EXISTS (  -- a queue with stored limits or priority: durable.queues claims
           SELECT 1 FROM durable_queue q WHERE q.name = %(queue)s AND """
    + QUEUE_CLAIMS_APART
    + """) AS claimed) here
ON CONFLICT DO NOTHING
RETURNING id, status, deadline_at
"""
)


ENQUEUED_RUN_OF = """
-- enqueued_run_of --
-- After a lost reply: an enqueued run of this workflow with this id is taken as ours (at
-- worst it is dispatched twice, which the lease makes harmless), and so is one inserted
-- claimed by the executor that asked (no other could have claimed it for that executor)
SELECT id, status, deadline_at FROM durable_run
WHERE id = %(run_id)s AND workflow = %(workflow)s
  AND (status = 'ENQUEUED'
       OR (status = 'RUNNING' AND executor_id = %(executor_id)s AND steps_done = 0))
"""


@dataclass(frozen=True)
class InsertedRun:
    """A run just created: `claimed` when the insert made it RUNNING for the executor."""

    claimed: bool
    deadline_at: datetime | None


def insert_run(
    *,
    run_id: str,
    workflow: str,
    version: str,
    input: str,
    tags: str,
    queue: str,
    priority: int,
    timeout: float | None,
    due_at: datetime | None,
    parent_deadline: datetime | None,
    max_recoveries: int | None,
    dedup_id: str | None,
    parent_id: str | None,
    forked_from_id: str | None,
    forked_from_step: int | None,
    executor_id: str | None = None,
    lease: float = 0.0,
) -> InsertedRun | None:
    """The run created, or None if the id (or an active run's dedup_id) was taken. `input`
    and `tags` are JSON text; `durable.core._creation` is the one caller. With
    `executor_id`, a run due now outside limited and priority queues is inserted claimed."""
    params = {**locals(), "steps_done": forked_from_step or 0}  # copied checkpoints are done
    settle = lambda: _execute_once(ENQUEUED_RUN_OF, params) or None  # noqa: E731
    # prepared: planning this statement costs the server more than running it (0.4 ms)
    rows = _execute_prepared(INSERT_RUN, params, settle=settle)
    if not rows:
        return None
    _, status, deadline_at = rows[0]
    return InsertedRun(claimed=status == "RUNNING", deadline_at=deadline_at)


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
SELECT workflow, parent_id, imported FROM durable_run WHERE id = %(run_id)s
"""


def run_identity(run_id: str) -> tuple[str, str | None, bool] | None:
    """(workflow, parent id, imported) of an existing run: what an id conflict is judged on."""
    rows = execute(RUN_IDENTITY, {"run_id": run_id})
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else None


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
       -- the run's checkpoints; at positions without one (the step a resume or a recovery
       -- runs again) the highest attempt number used there, failed or lost to an executor's
       -- death, so numbers go on from it, and the deaths there since the last resume (no
       -- retries). Functions (migration 0036): the run's creation time is then a parameter
       -- of their generic plans, and the other history partitions are pruned before their
       -- scans are set up (inline, every daily partition's were)
       durable_run_checkpoints(c.id, c.created_at),
       durable_run_attempts_used(c.id, c.created_at, c.lost_attempts),
       c.attempts_before_resume, c.imported
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

CLAIM_RUN = (
    """
-- claim_run --
-- Take one due, enqueued run and load its recorded history, in a single round trip
WITH run AS (  -- found by primary key only, then judged (see record_step)
    SELECT id, status, available_at, workflow, version, queue, held_at FROM durable_run
    WHERE id = %(run_id)s FOR UPDATE
), claimed AS (
    UPDATE durable_run
    SET status = 'RUNNING', executor_id = %(executor_id)s,
        lease_expires_at = now() + make_interval(secs => %(lease)s),
        started_at = COALESCE(durable_run.started_at, now()), updated_at = now(),
        claimed_at = now(),
        version = """
    + STAMP_VERSION
    + """
    FROM run
    WHERE durable_run.id = run.id AND run.status = 'ENQUEUED' AND run.available_at <= now()
      AND run.held_at IS NULL  -- held by an operator: it waits until released
      AND (run.workflow = ANY(%(workflows)s)
           OR run.workflow || '@' || run.version = ANY(%(workflows)s))
      AND NOT EXISTS (  -- a queue with stored limits or priority: durable.queues claims
          SELECT 1 FROM durable_queue q WHERE q.name = run.queue AND """
    + QUEUE_CLAIMS_APART
    + """)
    RETURNING durable_run.id, durable_run.workflow, durable_run.version, durable_run.input,
              durable_run.deadline_at, durable_run.attempts_before_resume,
              durable_run.lost_attempts, durable_run.imported, durable_run.created_at
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
    workflow, version, run_input, deadline_at, steps, attempts, before_resume, imported = row
    # psycopg decodes `json` values itself (json.loads: key order and number types kept);
    # an imported run's recorded errors came from a file: replay holds them to the safe set
    recorded = {
        position: RecordedStep(position, name, kind, status, output, error, hashed, imported)
        for position, name, kind, status, output, error, hashed in steps
    }
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
        before_resume,
        deaths,
    )


FINISH_RUN = (
    """
-- finish_run --
-- Record the run's outcome, only while this executor still owns it; tell waiters in other
-- processes when it commits, unless the run was claimed in its insert (claimed_at is then
-- its created_at): its waiter is in this process, told without a NOTIFY (whose commit
-- lock every notifying commit queues on)
WITH run AS (  -- found by primary key only, then judged (see record_step)
    SELECT id, status, executor_id, claimed_at = created_at AS started_here
    FROM durable_run WHERE id = %(run_id)s FOR UPDATE
), finished AS (
UPDATE durable_run
SET status = %(status)s, output = %(output)s::json, error = %(error)s::json,
    error_type = %(error_type)s, error_fingerprint = %(error_fingerprint)s,
    cancel_reason = %(cancel_reason)s,
    -- the history's count and active time (ACTIVE_MS_SQL): as the execution kept them, or
    -- from the run's one partition, in a function (migration 0035) so the others are pruned
    -- before their scans are set up (TOTALS_AT_END_SQL)
    (steps_done, active_ms) = (
        SELECT totals.steps, totals.active_ms FROM """
    + TOTALS_AT_END_SQL.format(run="durable_run")
    + """ totals),
    finished_at = now(), lease_expires_at = NULL, updated_at = now()
FROM run
WHERE durable_run.id = run.id AND run.status = 'RUNNING' AND run.executor_id = %(executor_id)s
RETURNING durable_run.id
)
SELECT finished.id, CASE WHEN run.started_here IS NOT TRUE
                         THEN pg_notify('"""
    + FINISH_CHANNEL
    + """', finished.id) END
FROM finished, run
"""
)


def finish_run(
    *,
    run_id: str,
    executor_id: str,
    status: str,
    output: str | None = None,
    error: str | None = None,
    error_type: str = "",
    error_fingerprint: str = "",
    cancel_reason: str = "",
    steps_done: int | None = None,
    active_ms: float | None = None,
) -> bool:
    """True if written; False means the run is no longer this executor's. `steps_done` and
    `active_ms`: the history's totals as the execution kept them, if it knows them
    (`TOTALS_AT_END_SQL`); else the finish sums the history."""
    params = {
        "run_id": run_id, "executor_id": executor_id, "status": status, "output": output,
        "error": error, "error_type": error_type, "error_fingerprint": error_fingerprint,
        "cancel_reason": cancel_reason, "steps_done": steps_done, "active_ms": active_ms,
    }  # fmt: skip
    return bool(_execute_prepared(FINISH_RUN, params))


RUN_OUTCOME = """
-- run_outcome --
-- A run's status and result; `imported` says whether a file brought the recorded error
SELECT status, output, error, cancel_reason, imported FROM durable_run WHERE id = %(run_id)s
"""


def run_outcome(run_id: str) -> tuple[str, Any, Any, str, bool] | None:
    """(status, output, error, cancel reason, imported) of a run, or None."""
    rows = execute(RUN_OUTCOME, {"run_id": run_id})
    if not rows:
        return None
    status, output, error, reason, imported = rows[0]
    return status, output, error, reason, imported


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


SUSPEND_RUN = (
    """
-- suspend_run --
-- Give a sleeping run back to the queue until it is due, so no thread waits for it
UPDATE durable_run
SET status = 'ENQUEUED', executor_id = NULL, lease_expires_at = NULL,
    available_at = %(wake_at)s, updated_at = now(),
    steps_done = """
    + STEPS_DONE_SQL.format(run="durable_run")
    + """
WHERE id = %(run_id)s AND status = 'RUNNING' AND executor_id = %(executor_id)s
"""
)


def suspend_run(run_id: str, executor_id: str, wake_at: datetime) -> None:
    execute(SUSPEND_RUN, {"run_id": run_id, "executor_id": executor_id, "wake_at": wake_at})


RELEASE_RUNS = (
    """
-- release_runs --
-- Give runs back to the queue at once (shutdown, a long database outage): no recovery is
-- counted and any executor may claim them now; updated_at just before available_at marks
-- them "due, no message sent", so a Celery sweep dispatches them on its next pass
UPDATE durable_run
SET status = 'ENQUEUED', executor_id = NULL, lease_expires_at = NULL, available_at = now(),
    updated_at = now() - interval '1 millisecond',
    steps_done = """
    + STEPS_DONE_SQL.format(run="durable_run")
    + """
WHERE id = ANY(%(run_ids)s) AND status = 'RUNNING' AND executor_id = %(executor_id)s
RETURNING id
"""
)


def release_runs(run_ids: list[str], executor_id: str) -> list[str]:
    """The runs released (those still owned by `executor_id`)."""
    if not run_ids:
        return []
    params = {"run_ids": run_ids, "executor_id": executor_id}
    return [row[0] for row in execute(RELEASE_RUNS, params)]


NOTIFY_CANCELLED = f"""
-- notify_cancelled --
-- Tell executors at once (delivered when the cancel commits): they stop the run before its
-- next step, instead of hearing of it at their next lease renewal
SELECT pg_notify('{CANCEL_CHANNEL}', id) FROM unnest(%(run_ids)s::text[]) AS id
"""


def notify_cancelled(run_ids: list[str]) -> None:
    if run_ids:
        execute(NOTIFY_CANCELLED, {"run_ids": run_ids})


CHILDREN = """
-- children --
SELECT id FROM durable_run WHERE parent_id = %(run_id)s ORDER BY created_at, id
"""


def children(run_id: str) -> list[str]:
    return [row[0] for row in execute(CHILDREN, {"run_id": run_id})]
