"""SQL of monitoring: the aggregates a Prometheus scrape reads, the health checks, the
failure-group count behind alerts, and a fork's origin for trace links. Read-only: inside a
page that reads the replica (`_reading`) they run there."""

from __future__ import annotations

from durable.core.store._execute import Rows, execute_read
from durable.core.store._leases import HELD_LIFELINES, LIVE_EXECUTOR

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

SIZE_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)


def _bucket_columns(expression: str, bounds: tuple[float, ...]) -> str:
    return ", ".join(f"count(*) FILTER (WHERE {expression} <= {bound})" for bound in bounds)


RUN_TOTALS = """
-- run_totals --
-- Runs, their recoveries and the held ones by workflow and status (index-only over
-- run_workflow_status_idx for the counts; recovery_count and held_at read the heap)
SELECT workflow, status, count(*), COALESCE(sum(recovery_count), 0),
    count(*) FILTER (WHERE held_at IS NOT NULL)
FROM durable_run GROUP BY workflow, status
"""

RECENT_STEPS = f"""
-- recent_steps --
-- Duration and stored output size of the steps that finished in the window, by workflow
-- and step (range over step_finished_idx, each run by primary key)
SELECT r.workflow, s.name, count(*), COALESCE(sum(s.duration_ms), 0) / 1000.0,
    COALESCE(sum(pg_column_size(s.output)), 0),
    {_bucket_columns("s.duration_ms", tuple(b * 1000 for b in DURATION_BUCKETS))},
    {_bucket_columns("COALESCE(pg_column_size(s.output), 0)", SIZE_BUCKETS)}
FROM durable_step s JOIN durable_run r ON r.id = s.run_id
WHERE s.finished_at > now() - make_interval(secs => %(window)s)
    AND s.kind IN ('step', 'transaction')
GROUP BY r.workflow, s.name
"""

FAILED_ATTEMPTS = """
-- failed_attempts --
-- Every failed attempt of a step (a retry, or the final failure), by step
SELECT name, count(*) FROM durable_attempt GROUP BY name
"""

QUEUES = """
-- queues --
-- Waiting and running runs per queue, and how long the oldest due one has waited
-- (partial indexes run_due_idx and run_queue_running_idx)
SELECT queue,
    count(*) FILTER (WHERE status = 'ENQUEUED'),
    count(*) FILTER (WHERE status = 'RUNNING'),
    COALESCE(EXTRACT(EPOCH FROM now() - min(available_at)
        FILTER (WHERE status = 'ENQUEUED' AND available_at <= now())), 0)
FROM durable_run WHERE status IN ('ENQUEUED', 'RUNNING') GROUP BY queue
"""

EXECUTOR_KINDS = (
    "-- executor_kinds --\n"
    "-- Live executors (LIVE_EXECUTOR), with what they serve and whether an operator\n"
    "-- drained them\n"
    "WITH"
    + HELD_LIFELINES
    + "\nSELECT kind, workflows, draining FROM durable_executor e WHERE "
    + LIVE_EXECUTOR
)


BULK_JOB_STATES = """
-- bulk_job_states --
-- Bulk jobs by state, and the runs the unfinished ones have left (a small table)
SELECT state, count(*), COALESCE(sum(total - "offset"), 0) FROM durable_bulkjob GROUP BY state
"""


def bulk_job_states() -> Rows:
    return execute_read(BULK_JOB_STATES, {})


def run_totals() -> Rows:
    """(workflow, status, runs, recoveries, held) rows."""
    return execute_read(RUN_TOTALS, {})


def recent_steps(window: float) -> Rows:
    """Per (workflow, step): count, seconds, bytes, then the duration and size buckets."""
    return execute_read(RECENT_STEPS, {"window": window})


def failed_attempts() -> Rows:
    return execute_read(FAILED_ATTEMPTS, {})


def queue_loads() -> Rows:
    """(queue, waiting, running, oldest due wait in seconds) rows."""
    return execute_read(QUEUES, {})


def executor_kinds(alive: float, silence: float, grace: float) -> Rows:
    """(kind, workflows, draining) of the live executors (LIVE_EXECUTOR)."""
    return execute_read(EXECUTOR_KINDS, {"alive": alive, "silence": silence, "grace": grace})


STRANDED_RUN_IDS = """
-- stranded_run_ids --
-- A few due ENQUEUED runs of one workflow version, oldest first (run_due_idx)
SELECT id FROM durable_run
WHERE status = 'ENQUEUED' AND available_at <= now() AND workflow = %(workflow)s
    AND version = %(version)s
ORDER BY available_at LIMIT %(limit)s
"""

PING = """
-- ping --
-- Is the database reachable at all (/health runs it on its own bounded connection)
SELECT 1
"""


def stranded_run_ids(workflow: str, version: str, limit: int) -> list[str]:
    params = {"workflow": workflow, "version": version, "limit": limit}
    return [row[0] for row in execute_read(STRANDED_RUN_IDS, params)]


GROUP_COUNT = """
-- failure_group_count --
-- Failed runs of one failure group created inside the window (run_fingerprint_created_idx)
SELECT count(*) FROM durable_run
WHERE error_fingerprint = %(fingerprint)s AND workflow = %(workflow)s AND status = 'ERROR'
    AND created_at > now() - make_interval(secs => %(window)s)
"""


def failure_group_count(fingerprint: str, workflow: str, window: float) -> int:
    params = {"fingerprint": fingerprint, "workflow": workflow, "window": window}
    return execute_read(GROUP_COUNT, params)[0][0]


FORKED_FROM = """
-- forked_from --
-- The run a fork or restart came from, to link the new trace to the old one
SELECT forked_from_id FROM durable_run WHERE id = %(run_id)s
"""


def forked_from(run_id: str) -> str | None:
    rows = execute_read(FORKED_FROM, {"run_id": run_id})
    return rows[0][0] if rows else None


DUE_GROUPS = """
-- due_groups --
-- Due ENQUEUED runs by queue and code version, with how long the oldest has waited
-- (run_due_idx); {ids}
SELECT queue, workflow, version, count(*),
       EXTRACT(EPOCH FROM now() - min(available_at))::float{sample}
FROM durable_run WHERE status = 'ENQUEUED' AND available_at <= now()
  AND held_at IS NULL  -- a held run waits for its release, not for an executor
GROUP BY queue, workflow, version ORDER BY min(available_at)
"""

GROUPS = DUE_GROUPS.format(ids="no ids (/health, /metrics)", sample=", NULL")

GROUPS_WITH_IDS = DUE_GROUPS.format(
    ids="with the ids of the oldest few (the health page)",
    sample=", (array_agg(id ORDER BY available_at, id))[1:%(sample)s]",
)


def due_groups(sample: int) -> Rows:
    """(queue, workflow, version, count, oldest wait in seconds, sample ids or NULL) rows of
    the due ENQUEUED runs, oldest group first; `sample` 0 reads no ids."""
    return execute_read(GROUPS_WITH_IDS if sample else GROUPS, {"sample": sample})
