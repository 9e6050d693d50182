"""SQL of executors and their leases: heartbeats, lifelines, lease renewal, recovering the
runs of dead owners (with their history), forgetting dead executors, draining; and the
database's clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from durable.core.store._channels import DRAIN_CHANNEL
from durable.core.store._execute import Rows, execute, execute_read

RENEW_LEASES = """
-- renew_leases --
-- Extend the leases of the runs this executor is executing; missing ids were taken from it.
-- A cancelled run's lease is its executor's hold while the step in flight at the cancel has
-- not returned: a resume waits for it, or that step would run twice. A hold ended
-- (end_holds) is never renewed again: a heartbeat may carry a list read before it ended.
-- The status tells the executor which of its runs were cancelled (a missed notice)
UPDATE durable_run SET lease_expires_at = now() + make_interval(secs => %(lease)s)
WHERE id = ANY(%(run_ids)s) AND executor_id = %(executor_id)s
  AND (status = 'RUNNING' OR (status = 'CANCELLED' AND lease_expires_at IS NOT NULL))
RETURNING id, status
"""

END_HOLDS = """
-- end_holds --
-- This executor's threads of these cancelled runs have returned: the step each had in
-- flight at the cancel kept its checkpoint or was refused one, so a resume may go on
UPDATE durable_run SET lease_expires_at = NULL
WHERE id = ANY(%(run_ids)s) AND status = 'CANCELLED' AND executor_id = %(executor_id)s
  AND lease_expires_at IS NOT NULL
"""


def end_holds(executor_id: str, run_ids: list[str]) -> None:
    if run_ids:
        execute(END_HOLDS, {"executor_id": executor_id, "run_ids": run_ids})


def renew_leases(executor_id: str, run_ids: list[str], lease: float) -> dict[str, str]:
    """The renewed runs with their status: RUNNING, or CANCELLED for a hold (its thread
    must stop, whether or not it heard the cancel); the missing ones were taken away."""
    if not run_ids:
        return {}
    params = {"executor_id": executor_id, "run_ids": run_ids, "lease": lease}
    return dict(execute(RENEW_LEASES, params))


# The session-level advisory locks held now in this database, as the bigint keys they were
# taken with: an executor's lifeline holds hashtextextended(its id, 0) while its process lives
HELD_LIFELINES = """
held AS (
    SELECT (classid::bigint << 32) | objid::bigint AS key FROM pg_locks
    WHERE locktype = 'advisory' AND objsubid = 1 AND granted
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)"""

# The verdict on the runs an `orphaned` CTE names (id, max_recoveries, and the owner's
# executor_id, hostname, pid, last heartbeat): re-enqueued with a recovery counted, or DEAD
# past the limit; each verdict is written to durable_recovery
RECOVERED = """, recovered AS (
    UPDATE durable_run r
    SET status = CASE WHEN r.recovery_count >= o.max_recoveries THEN 'DEAD' ELSE 'ENQUEUED' END,
        recovery_count = r.recovery_count
            + CASE WHEN r.recovery_count >= o.max_recoveries THEN 0 ELSE 1 END,
        finished_at = CASE WHEN r.recovery_count >= o.max_recoveries THEN now() END,
        -- the history is read through functions (the run's one partition: migrations 0035
        -- and 0039); inline, every daily partition was planned at every recovery
        (steps_done, active_ms) = (
            SELECT totals.steps,
                   CASE WHEN r.recovery_count >= o.max_recoveries THEN totals.active_ms END
            FROM durable_run_totals(r.id, r.created_at, coalesce(r.forked_from_step, 0)) totals),
        error = CASE WHEN r.recovery_count >= o.max_recoveries THEN json_build_object(
            'type', 'durable.errors.RunDeadError',
            'message', format('the run''s executor died %%s times (limit %%s); `durable show` '
                              'and the run page list each death; fix the cause and resume '
                              'the run', r.recovery_count + 1, o.max_recoveries),
            'args', json_build_array(), 'traceback', '') ELSE r.error END,
        error_type = CASE WHEN r.recovery_count >= o.max_recoveries
            THEN 'durable.errors.RunDeadError' ELSE r.error_type END,
        executor_id = NULL, lease_expires_at = NULL, available_at = now(), updated_at = now(),
        -- the attempt the death cut short, at the first position without a checkpoint: it
        -- takes the next attempt number there, so the step run again gets the one after it
        lost_attempts = durable_run_lost_attempts(r.id, r.created_at, r.lost_attempts)
    FROM orphaned o
    WHERE r.id = o.id
    RETURNING r.id, r.status, o.executor_id, o.hostname, o.pid, o.last_seen_at
), history AS (
    INSERT INTO durable_recovery (run_id, executor_id, hostname, pid, last_seen_at, outcome)
    SELECT id, COALESCE(executor_id, ''), COALESCE(hostname, ''), pid, last_seen_at, status
    FROM recovered
)
SELECT id, status FROM recovered
"""

# The owner `e` of run `r` is dead (the recovery verdict): the server holds no lifeline lock
# of it and it has been silent `silence` seconds (or the run's lease ran out); none is until
# the server has been up `grace` seconds (a restart drops every lifeline lock at once, and
# live owners, silent while it was down, take theirs again)
DEAD_OWNER = """(r.lease_expires_at < now()
           OR e.last_seen_at < now() - make_interval(secs => %(silence)s))
      AND NOT EXISTS (SELECT 1 FROM held WHERE held.key = hashtextextended(r.executor_id, 0))
      AND pg_postmaster_start_time() < now() - make_interval(secs => %(grace)s)"""

# Running runs whose owner is dead (DEAD_OWNER)
ORPHANS = (
    """
    FROM durable_run r LEFT JOIN durable_executor e ON e.id = r.executor_id
    WHERE r.status = 'RUNNING'
      AND """
    + DEAD_OWNER
)

ANY_ORPHANED = (
    "-- any_orphaned --\n"
    "-- Whether any running run's owner is dead: every executor asks every heartbeat, and\n"
    "-- recover_orphaned, a larger statement that takes row locks, is sent only when this\n"
    "-- says so\n"
    "WITH" + HELD_LIFELINES + "\nSELECT EXISTS (SELECT 1" + ORPHANS + ")"
)

RECOVER_ORPHANED = (
    "-- recover_orphaned --\n"
    "-- Re-enqueue running runs whose owner is dead (ORPHANS); past the limit (the run's own\n"
    "-- max_recoveries, else the setting's) park them DEAD. Each verdict is written to\n"
    "-- durable_recovery with the dead owner's host, pid and last heartbeat.\n"
    "WITH"
    + HELD_LIFELINES
    + """, orphaned AS MATERIALIZED (  -- its LIMIT taken once, however the UPDATE joins it
    SELECT r.id, COALESCE(r.max_recoveries, %(max_recoveries)s) AS max_recoveries,
           r.executor_id, e.hostname, e.pid, e.last_seen_at"""
    + ORPHANS
    + """
    ORDER BY r.lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE OF r SKIP LOCKED
)"""
    + RECOVERED
)


def recover_orphaned(
    max_recoveries: int, silence: float, grace: float, limit: int = 500
) -> list[tuple[str, str]]:
    """(run id, ENQUEUED or DEAD) of each orphan recovered; a look only when there is none."""
    params = {"max_recoveries": max_recoveries, "silence": silence, "grace": grace, "limit": limit}
    if not execute(ANY_ORPHANED, params)[0][0]:
        return []
    return execute(RECOVER_ORPHANED, params)


GIVE_BACK_RUN = (
    "-- give_back_run --\n"
    "-- A live owner that cannot write a run's checkpoint (a non-transient error) gives the\n"
    "-- run up as if it had died: recoverable at once, a recovery counted (DEAD past the\n"
    "-- limit), so a run whose checkpoints always fail ends visibly instead of looping\n"
    """WITH orphaned AS (
    SELECT r.id, COALESCE(r.max_recoveries, %(max_recoveries)s) AS max_recoveries,
           r.executor_id, e.hostname, e.pid, e.last_seen_at
    FROM durable_run r LEFT JOIN durable_executor e ON e.id = r.executor_id
    WHERE r.id = %(run_id)s AND r.status = 'RUNNING' AND r.executor_id = %(executor_id)s
    FOR UPDATE OF r
)""" + RECOVERED
)


def give_back_run(run_id: str, executor_id: str, max_recoveries: int) -> str | None:
    """The run's status after the verdict (ENQUEUED or DEAD); None if it was not ours."""
    params = {"run_id": run_id, "executor_id": executor_id, "max_recoveries": max_recoveries}
    rows = execute(GIVE_BACK_RUN, params)
    return rows[0][1] if rows else None


NOTE_OWNER_ALIVE = """
-- note_owner_alive --
-- An owner found these runs taken from it: it was alive when it was declared dead
UPDATE durable_recovery SET owner_alive_at = now()
WHERE executor_id = %(executor_id)s AND run_id = ANY(%(run_ids)s) AND owner_alive_at IS NULL
"""


def note_owner_alive(executor_id: str, run_ids: list[str]) -> None:
    if run_ids:
        execute(NOTE_OWNER_ALIVE, {"executor_id": executor_id, "run_ids": run_ids})


HEARTBEAT = """
-- heartbeat --
-- Announce a live executor and what it can run (dashboard's workers page, dead-owner checks)
INSERT INTO durable_executor (id, kind, hostname, pid, workflows, started_at, last_seen_at)
VALUES (%(executor_id)s, %(kind)s, %(hostname)s, %(pid)s, %(workflows)s, now(), now())
ON CONFLICT (id) DO UPDATE SET last_seen_at = now(), workflows = EXCLUDED.workflows
RETURNING draining, EXTRACT(EPOCH FROM drain_release_at - now())
"""


def heartbeat(
    *, executor_id: str, kind: str, hostname: str, pid: int | None, workflows: list[str]
) -> tuple[bool, float | None]:
    """(draining, seconds until runs in flight are released): an operator's drain, read
    back by the same statement, so a missed notification is noticed within a renewal."""
    params = {"executor_id": executor_id, "kind": kind, "hostname": hostname, "pid": pid,
              "workflows": workflows}  # fmt: skip
    draining, release_in = execute(HEARTBEAT, params)[0]
    return draining, None if release_in is None else float(release_in)


DEAD_EXECUTORS = (
    "-- dead_executors --\n"
    "-- Executors silent for a lease whose lifeline lock is gone and which own no running\n"
    "-- run (the sweep recovers those first, recording who died), the server itself up for a\n"
    "-- lease (a restart drops every lock): rows to forget\n"
    "WITH"
    + HELD_LIFELINES
    + """
SELECT id FROM durable_executor e
WHERE id <> %(executor_id)s AND last_seen_at < now() - make_interval(secs => %(lease)s)
  AND NOT EXISTS (SELECT 1 FROM held WHERE held.key = hashtextextended(e.id, 0))
  AND NOT EXISTS (SELECT 1 FROM durable_run r WHERE r.status = 'RUNNING' AND r.executor_id = e.id)
  AND pg_postmaster_start_time() < now() - make_interval(secs => %(lease)s)
"""
)


def dead_executors(executor_id: str, lease: float) -> list[str]:
    rows = execute(DEAD_EXECUTORS, {"executor_id": executor_id, "lease": lease})
    return [row[0] for row in rows]


TAKE_LIFELINE = """
-- take_lifeline --
-- Held by the lifeline's session while the process lives; the server drops it when the
-- process dies (its socket closes) or the connection is lost
SELECT pg_try_advisory_lock(hashtextextended(%(executor_id)s, 0))
"""

LIFELINE = """
-- lifeline --
-- The lifeline's heartbeat, on its own connection: the executor lives (its lock is held)
UPDATE durable_executor SET last_seen_at = now() WHERE id = %(executor_id)s
"""


FORGET_EXECUTORS = """
-- forget_executors --
DELETE FROM durable_executor WHERE id = ANY(%(executor_ids)s)
"""


def forget_executors(executor_ids: list[str]) -> None:
    if executor_ids:
        execute(FORGET_EXECUTORS, {"executor_ids": executor_ids})


SET_DRAINING = f"""
-- set_draining --
-- Mark an executor draining (or not), with when its runs in flight are released, and tell
-- it at once; the notification is delivered when this transaction commits
WITH marked AS (
    UPDATE durable_executor
    SET draining = %(draining)s,
        drain_release_at = now() + make_interval(secs => %(release_after)s)
    WHERE id = %(executor_id)s
    RETURNING id
)
SELECT id, pg_notify('{DRAIN_CHANNEL}', %(notice)s) FROM marked
"""


def set_draining(params: dict[str, Any]) -> bool:
    """Mark an executor draining or not and notify it on commit; False if no such executor."""
    return bool(execute(SET_DRAINING, params))


DATABASE_CLOCK = """
-- database_clock --
-- The one clock (durable.core._clock): the database's time now, not the transaction's start
SELECT clock_timestamp()
"""


def database_clock() -> datetime:
    return execute(DATABASE_CLOCK, {})[0][0]


# An executor `e` is live: heard from within `alive` seconds, and not dead by the recovery
# verdict's rule (ORPHANS: its lifeline lock gone and silent `silence` seconds), so a killed
# executor stops counting within seconds, not `alive` later. A hot standby holds none of the
# primary's locks: there (pg_is_in_recovery) the heartbeat alone decides; nor does a server
# up for less than `grace` (a restart drops every lock, and live owners take theirs again)
LIVE_EXECUTOR = """e.last_seen_at > now() - make_interval(secs => %(alive)s)
  AND (e.last_seen_at > now() - make_interval(secs => %(silence)s)
       OR EXISTS (SELECT 1 FROM held WHERE held.key = hashtextextended(e.id, 0))
       OR pg_is_in_recovery()
       OR pg_postmaster_start_time() > now() - make_interval(secs => %(grace)s))"""

LIVE_EXECUTOR_WORKFLOWS = (
    "-- live_executor_workflows --\n"
    "-- What each live executor (LIVE_EXECUTOR) that takes runs (not drained) can run\n"
    "WITH"
    + HELD_LIFELINES
    + "\nSELECT workflows FROM durable_executor e WHERE NOT draining AND "
    + LIVE_EXECUTOR
)


def live_executor_workflows(alive: float, silence: float, grace: float) -> list[list[str] | None]:
    """The workflow keys of each live executor (LIVE_EXECUTOR), not drained."""
    params = {"alive": alive, "silence": silence, "grace": grace}
    return [row[0] for row in execute_read(LIVE_EXECUTOR_WORKFLOWS, params)]


LIVE_EXECUTORS = (
    "-- live_executors --\n"
    "-- Every live executor (LIVE_EXECUTOR): what it can run and whether an operator drained it\n"
    "WITH"
    + HELD_LIFELINES
    + "\nSELECT id, workflows, draining FROM durable_executor e WHERE "
    + LIVE_EXECUTOR
    + " ORDER BY id"
)


ANNOUNCE_THREADS = """
-- announce_threads --
-- How many runs an executor executes at once ("busy/free threads" on a waiting run's page)
UPDATE durable_executor SET threads = %(threads)s WHERE id = %(executor_id)s
"""


def live_executors(alive: float, silence: float, grace: float) -> Rows:
    """(id, workflows, draining) of every live executor (LIVE_EXECUTOR)."""
    return execute_read(LIVE_EXECUTORS, {"alive": alive, "silence": silence, "grace": grace})


def announce_threads(executor_id: str, threads: int) -> None:
    execute(ANNOUNCE_THREADS, {"executor_id": executor_id, "threads": threads})


KNOWN_WORKFLOW = """
-- known_workflow --
-- Has any executor (live or recently live) advertised this workflow (at this version), or
-- does any run of it exist? durable_executor is one row per executor; runs use
-- run_workflow_created_idx
SELECT EXISTS (
    SELECT 1 FROM durable_executor e, unnest(e.workflows) AS key
    WHERE key = %(workflow)s || '@' || %(version)s
       OR (%(version)s = '' AND left(key, length(%(workflow)s) + 1) = %(workflow)s || '@'))
OR EXISTS (
    SELECT 1 FROM durable_run
    WHERE workflow = %(workflow)s AND (%(version)s = '' OR version = %(version)s))
"""


def workflow_known(workflow: str, version: str) -> bool:
    """Has an executor served `workflow` (at `version`; "" for any), or a run of it been made?"""
    return bool(execute(KNOWN_WORKFLOW, {"workflow": workflow, "version": version})[0][0])


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


DEAD_STOPPING_OWNERS = (
    "-- dead_stopping_owners --\n"
    "-- The cancelled runs among `run_ids` whose owner is dead by the recovery verdict's rule\n"
    "-- (DEAD_OWNER): no answer to the cancel will come, and no step of them starts again\n"
    "WITH"
    + HELD_LIFELINES
    + """
SELECT r.id FROM durable_run r LEFT JOIN durable_executor e ON e.id = r.executor_id
WHERE r.id = ANY(%(run_ids)s) AND r.status = 'CANCELLED' AND r.executor_id IS NOT NULL
  AND """
    + DEAD_OWNER
)


def dead_stopping_owners(run_ids: list[str], silence: float, grace: float) -> set[str]:
    """The cancelled runs among `run_ids` whose owner is dead (DEAD_STOPPING_OWNERS)."""
    if not run_ids:
        return set()
    params = {"run_ids": run_ids, "silence": silence, "grace": grace}
    return {row[0] for row in execute(DEAD_STOPPING_OWNERS, params)}
