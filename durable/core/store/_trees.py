"""SQL of operator actions on run trees: locking runs and their descendants in id order,
cancelling, resuming and deleting them, pruning old ones. Each statement runs through the
store's one execute path (`_execute`); the operations call these inside their transactions.
"""

from __future__ import annotations

from datetime import datetime

from durable.core.store._durations import ACTIVE_MS_SQL
from durable.core.store._execute import Rows, execute
from durable.core.store._leases import HELD_LIFELINES

LOCK_RUNS = """
-- lock_runs --
-- Lock runs in a stable order (by id) so concurrent bulk operations wait instead of deadlock
SELECT id, status, executor_id FROM durable_run
WHERE id = ANY(%(run_ids)s) ORDER BY id FOR UPDATE
"""

LOCK_CHILDREN = """
-- lock_children --
-- The next level of the trees under `run_ids`, locked by id; with `cascaded_only`, only
-- children a parent's cancel took down (the ones a resume brings back)
SELECT id, status, executor_id FROM durable_run
WHERE parent_id = ANY(%(run_ids)s)
  AND (NOT %(cascaded_only)s OR (status = 'CANCELLED' AND cancelled_with_parent))
ORDER BY id FOR UPDATE
"""

CANCEL_RUNS = (
    """
-- cancel_runs --
-- Cancel the active runs among `run_ids`; those in `cascaded` go with a cancelled parent
-- (a timeout's run counts as one when its deadline came from its parent's)
UPDATE durable_run r
SET status = 'CANCELLED', cancel_reason = %(reason)s, finished_at = now(),
    -- a running run's executor keeps its lease (its hold) until the step in flight returns
    lease_expires_at = CASE WHEN r.status = 'RUNNING' THEN r.lease_expires_at END,
    updated_at = now(),
    cancelled_with_parent = r.id = ANY(%(cascaded)s) OR EXISTS (
        SELECT 1 FROM durable_run p
        WHERE %(inherited_deadline)s AND p.id = r.parent_id AND p.deadline_at <= r.deadline_at),
    active_ms = """
    + ACTIVE_MS_SQL.format(run="r")
    + """,
    steps_done = (SELECT count(*) FROM durable_step s
                  WHERE s.run_id = r.id AND s.run_created_at = r.created_at)
WHERE r.id = ANY(%(run_ids)s) AND r.status IN ('ENQUEUED', 'RUNNING')
RETURNING r.id
"""
)


def lock_runs(run_ids: list[str]) -> list[tuple[str, str, str | None]]:
    """(id, status, executor id) of the existing runs, locked for this transaction."""
    return execute(LOCK_RUNS, {"run_ids": list(run_ids)})


def lock_children(run_ids: list[str], cascaded_only: bool) -> list[str]:
    """The ids of the next level under `run_ids`, locked (see LOCK_CHILDREN)."""
    params = {"run_ids": run_ids, "cascaded_only": cascaded_only}
    return [row[0] for row in execute(LOCK_CHILDREN, params)]


def cancel_runs(
    run_ids: list[str], cascaded: list[str], reason: str, inherited_deadline: bool
) -> list[str]:
    """Cancel the active runs among `run_ids`; the ids of those cancelled."""
    params = {"run_ids": run_ids, "cascaded": cascaded, "reason": reason,
              "inherited_deadline": inherited_deadline}  # fmt: skip
    return [row[0] for row in execute(CANCEL_RUNS, params)]


STOPPING_TREES = (
    """
-- stopping_trees --
-- The runs among `run_ids`, and the children their cancel took down, whose step in flight
-- at the cancel has not returned yet on a live executor (its lease is its hold; a dead
-- executor's lifeline lock is gone): each with the run it was asked about
WITH RECURSIVE tree AS (
    SELECT id AS root, id FROM durable_run WHERE id = ANY(%(run_ids)s)
    UNION
    SELECT tree.root, c.id FROM durable_run c JOIN tree ON c.parent_id = tree.id
    WHERE c.status = 'CANCELLED' AND c.cancelled_with_parent
),"""
    + HELD_LIFELINES
    + """
SELECT tree.root, r.id, r.executor_id FROM tree JOIN durable_run r ON r.id = tree.id
WHERE r.status = 'CANCELLED' AND r.lease_expires_at > now()
  AND EXISTS (SELECT 1 FROM held WHERE held.key = hashtextextended(r.executor_id, 0))
ORDER BY tree.root, r.id
"""
)


def stopping_trees(run_ids: list[str]) -> list[tuple[str, str, str]]:
    """(run asked about, run still stopping, its executor) of `run_ids` (see STOPPING_TREES)."""
    if not run_ids:
        return []
    return execute(STOPPING_TREES, {"run_ids": run_ids})


RESUME_RUNS = """
-- resume_runs --
-- Drop each run's trailing failed checkpoint (its error stays in durable_attempt) so that
-- step runs again, then put the runs back in line
WITH last_step AS (
    SELECT r.id AS run_id, r.created_at, last.position
    FROM durable_run r CROSS JOIN LATERAL (
        SELECT max(s.position) AS position FROM durable_step s
        WHERE s.run_id = r.id AND s.run_created_at = r.created_at) last
    WHERE r.id = ANY(%(run_ids)s) AND last.position IS NOT NULL
), dropped AS (
    DELETE FROM durable_step s USING last_step t
    WHERE s.run_id = t.run_id AND s.run_created_at = t.created_at AND s.position = t.position
      AND s.status = 'ERROR'
      -- the runs' creation times as constants: PostgreSQL prunes a DELETE's partitions
      -- only while planning it, never from a join
      AND s.run_created_at = ANY(%(created)s)
    RETURNING s.run_id, s.position
)
UPDATE durable_run r
SET status = 'ENQUEUED', executor_id = NULL, lease_expires_at = NULL, output = NULL,
    error = NULL, error_type = '', error_fingerprint = '', cancel_reason = '',
    cancelled_with_parent = false, finished_at = NULL, recovery_count = 0,
    available_at = now(), updated_at = now(),
    held_at = NULL, hold_reason = '',  -- a resume is a release too: the run goes on
    -- a resume grants the step it runs again a fresh retry budget; attempt numbers go on
    -- (past the failed attempts and those lost to deaths, whose count starts again)
    attempts_before_resume = GREATEST((
        SELECT max(a.attempt) FROM durable_attempt a
        WHERE a.run_id = r.id AND a.run_created_at = r.created_at AND a.position >= COALESCE(
            (SELECT d.position FROM dropped d WHERE d.run_id = r.id),
            (SELECT t.position + 1 FROM last_step t WHERE t.run_id = r.id), 0)), (
        SELECT max((lost.value ->> 0)::int) FROM jsonb_each(r.lost_attempts) lost
        WHERE lost.key::int >= COALESCE(
            (SELECT d.position FROM dropped d WHERE d.run_id = r.id),
            (SELECT t.position + 1 FROM last_step t WHERE t.run_id = r.id), 0)), 0),
    lost_attempts = COALESCE((
        SELECT jsonb_object_agg(lost.key, jsonb_build_array(lost.value -> 0, 0))
        FROM jsonb_each(r.lost_attempts) lost), '{}'::jsonb),
    steps_done = r.steps_done - (SELECT count(*) FROM dropped d WHERE d.run_id = r.id),
    -- a run-level timeout starts again: the resumed run gets as long as the first one had
    -- from its start (not its delay too); rows written before timeout_seconds fall back to
    -- their deadline's distance from creation (a delayed start that never started: from
    -- its due time)
    deadline_at = COALESCE(now() + make_interval(secs => r.timeout_seconds),
        now() + (r.deadline_at - CASE WHEN r.started_at IS NULL
            THEN GREATEST(r.created_at, r.available_at) ELSE r.created_at END)),
    -- keep the de-duplication id unless another active run holds it by now
    dedup_id = CASE WHEN EXISTS (
        SELECT 1 FROM durable_run other
        WHERE other.queue = r.queue AND other.dedup_id = r.dedup_id AND other.id <> r.id
          AND other.status IN ('ENQUEUED', 'RUNNING')) THEN NULL ELSE r.dedup_id END
WHERE r.id = ANY(%(run_ids)s)
"""


RUNS_CREATED_AT = """
-- runs_created_at --
-- The creation times of runs: the partitions their history is in
SELECT DISTINCT created_at FROM durable_run WHERE id = ANY(%(run_ids)s)
"""


def resume_runs(run_ids: list[str]) -> None:
    created = [row[0] for row in execute(RUNS_CREATED_AT, {"run_ids": run_ids})]
    execute(RESUME_RUNS, {"run_ids": run_ids, "created": created})


# A run is prunable when it finished before the cutoff and its parent (if any) is prunable
# too: a parent that still runs, or that is kept and may be resumed, replays
# `child.result()` and needs its children.
PRUNABLE = """
    r.status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'DEAD') AND r.finished_at < %(cutoff)s
    AND NOT EXISTS (
        SELECT 1 FROM durable_run p WHERE p.id = r.parent_id
          AND NOT (p.status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'DEAD')
                   AND p.finished_at < %(cutoff)s))
"""

# What is recorded for a run, in tables keyed by its run_id: its history (partitioned by
# the run's creation time, docs/partitioning.md) and the rest; and the links of other runs
# to it (a child's parent, a fork's origin), which a deleted run's survivors lose
HISTORY_OF_A_RUN = ("durable_step", "durable_attempt", "durable_steplog")
RECORDED_BESIDE_ITS_HISTORY = ("durable_message", "durable_event", "durable_stepevent",
                               "durable_streamentry", "durable_recovery",
                               "durable_stackrequest")  # fmt: skip
LINKS_TO_A_RUN = ("parent_id", "forked_from_id")


def _deleting(tables: tuple[str, ...]) -> str:
    """One CTE per table, e.g. `deleted_step AS (DELETE FROM durable_step WHERE …), `."""
    return "".join(
        f"{table.replace('durable_', 'deleted_')} AS (\n"
        f"    DELETE FROM {table} WHERE run_id IN (SELECT id FROM doomed)\n), "
        for table in tables
    )


# Deletes the runs of a `doomed (id)` CTE with what they recorded outside their history;
# their surviving children and forks lose the link (retention's drop of a whole partition,
# which takes the history with it)
DELETE_DOOMED_RUNS = (
    _deleting(RECORDED_BESIDE_ITS_HISTORY)
    + "".join(
        f"unlinked_{link} AS (\n    UPDATE durable_run SET {link} = NULL\n"
        f"    WHERE {link} IN (SELECT id FROM doomed) AND id NOT IN (SELECT id FROM doomed)\n), "
        for link in LINKS_TO_A_RUN
    ).removesuffix(", ")
    + """
DELETE FROM durable_run WHERE id IN (SELECT id FROM doomed)
RETURNING id
"""
)

# ... and with their history too, row by row (shared by prune and delete)
DELETE_DOOMED = _deleting(HISTORY_OF_A_RUN) + DELETE_DOOMED_RUNS

PRUNE_BATCH = f"""
-- prune_batch --
-- Delete one batch of prunable runs (oldest first) with everything recorded for them
WITH doomed AS MATERIALIZED (  -- one batch: its LIMIT taken once
    SELECT r.id FROM durable_run r
    WHERE {PRUNABLE}
    ORDER BY r.finished_at
    LIMIT %(batch_size)s
    FOR UPDATE OF r SKIP LOCKED
), {DELETE_DOOMED}"""

COUNT_PRUNABLE = f"""
-- count_prunable --
SELECT count(*) FROM durable_run r WHERE {PRUNABLE}
"""


def count_prunable(cutoff: datetime) -> int:
    return execute(COUNT_PRUNABLE, {"cutoff": cutoff})[0][0]


def prune_batch(cutoff: datetime, batch_size: int) -> int:
    """Delete one batch of prunable runs in one statement; how many it deleted."""
    return len(execute(PRUNE_BATCH, {"cutoff": cutoff, "batch_size": batch_size}))


DELETE_RUNS = f"""
-- delete_runs --
-- Delete the named runs with everything recorded for them (prune's statement, by id)
WITH doomed AS (SELECT unnest(%(run_ids)s::text[]) AS id), {DELETE_DOOMED}"""

RUN_FACTS = """
-- run_facts --
-- Status and parent of runs the caller has locked
SELECT id, status, parent_id FROM durable_run WHERE id = ANY(%(run_ids)s)
"""

RUN_ANCESTORS = """
-- run_ancestors --
-- Each run's ancestors (its parent, the parent's parent, ...), nearest first
WITH RECURSIVE up(id, ancestor, depth) AS (
    SELECT id, parent_id, 1 FROM durable_run
    WHERE id = ANY(%(run_ids)s) AND parent_id IS NOT NULL
    UNION ALL
    SELECT up.id, r.parent_id, up.depth + 1 FROM up JOIN durable_run r ON r.id = up.ancestor
    WHERE r.parent_id IS NOT NULL
)
SELECT id, ancestor FROM up ORDER BY id, depth
"""


def delete_runs(run_ids: list[str]) -> None:
    execute(DELETE_RUNS, {"run_ids": run_ids})


def run_facts(run_ids: list[str]) -> list[tuple[str, str, str | None]]:
    """(id, status, parent id) of runs the caller has locked."""
    return execute(RUN_FACTS, {"run_ids": run_ids})


def run_ancestors(run_ids: list[str]) -> list[tuple[str, str]]:
    """(id, ancestor) pairs, nearest ancestor first."""
    return execute(RUN_ANCESTORS, {"run_ids": list(run_ids)})


REQUEUE_RUNS = """
-- requeue_runs --
-- Give waiting runs another queue and/or priority (NULL keeps each); only ENQUEUED runs,
-- whose rows the caller has locked, so no claim takes one meanwhile
UPDATE durable_run
SET queue = COALESCE(%(queue)s, queue), priority = COALESCE(%(priority)s, priority),
    updated_at = now()
WHERE id = ANY(%(run_ids)s) AND status = 'ENQUEUED'
RETURNING id
"""


def requeue_runs(run_ids: list[str], queue: str | None, priority: int | None) -> set[str]:
    """Move locked ENQUEUED runs to `queue` and/or `priority`; the ids moved."""
    params = {"run_ids": run_ids, "queue": queue, "priority": priority}
    return {row[0] for row in execute(REQUEUE_RUNS, params)}


RUN_DEATHS = """
-- run_deaths --
-- A run's death verdicts in order, with whether the "dead" owner was seen alive afterwards
-- (it found the run taken, or it heartbeated after the verdict); served by recovery_run_idx
SELECT r.executor_id, r.hostname, r.pid, r.last_seen_at, r.recovered_at, r.outcome,
       COALESCE(r.owner_alive_at,
                CASE WHEN e.last_seen_at > r.recovered_at THEN e.last_seen_at END)
FROM durable_recovery r LEFT JOIN durable_executor e ON e.id = r.executor_id
WHERE r.run_id = %(run_id)s
ORDER BY r.recovered_at, r.id
"""


def run_deaths(run_id: str) -> Rows:
    """The death verdicts recorded for a run's owners, oldest first (see RUN_DEATHS)."""
    return execute(RUN_DEATHS, {"run_id": run_id})
