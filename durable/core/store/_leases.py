"""SQL of executors and their leases: heartbeats, lease renewal, recovering the runs of
expired leases, forgetting dead executors."""

from __future__ import annotations

from typing import Any

from durable.core.store._durations import ACTIVE_MS_SQL
from durable.core.store._execute import execute

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
    steps_done = (SELECT count(*) FROM durable_step s WHERE s.run_id = r.id)
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
