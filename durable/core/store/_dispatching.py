"""SQL that picks the runs to send a message for: the due runs an executor can take, those
no live code can take, and the marks that make each sweep send one message per run at most
(split from `_runs`, which creates, claims and finishes runs)."""

from __future__ import annotations

from durable.core.store._execute import execute

DUE_RUNS = """
-- due_runs --
-- Enqueued runs that are due and that this executor can run, by priority then age
SELECT id FROM durable_run
WHERE status = 'ENQUEUED' AND available_at <= now() AND held_at IS NULL
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


MARK_UNDISPATCHED = """
-- mark_undispatched --
-- A run whose message could not be sent (broker down): the sweep sends it on its next pass
UPDATE durable_run SET updated_at = available_at - interval '1 millisecond'
WHERE id = %(run_id)s AND status = 'ENQUEUED'
"""


def mark_undispatched(run_id: str) -> None:
    execute(MARK_UNDISPATCHED, {"run_id": run_id})


DUE_UNDISPATCHED = """
-- due_undispatched --
-- Due runs not dispatched since they came due (woken sleeps, delayed starts), plus, when
-- the broker's queue is empty, runs waiting longer than `stale` seconds (lost messages);
-- marking them (updated_at) makes each sweep send one message per run at most.
-- MATERIALIZED: the LIMIT is taken once; joined as a subquery, a nested loop may run it again
-- for each row of its other side, each time past the rows already marked
WITH due AS MATERIALIZED (
    SELECT id FROM durable_run
    WHERE status = 'ENQUEUED' AND available_at <= now() AND held_at IS NULL
      AND NOT EXISTS (  -- limited queues: their runs are woken as slots free (wake_queue_heads)
          SELECT 1 FROM durable_queue q WHERE q.name = durable_run.queue
            AND (q.concurrency IS NOT NULL OR q.worker_concurrency IS NOT NULL
                 OR q.rate_count IS NOT NULL))
      AND (updated_at < available_at
           OR (%(lost)s AND updated_at < now() - make_interval(secs => %(stale)s)))
    ORDER BY priority DESC, available_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE durable_run r SET updated_at = now()
FROM due
WHERE r.id = due.id
RETURNING r.id
"""


def mark_due_undispatched(lost: bool, stale: float, limit: int) -> list[str]:
    """Mark and return the due runs to send a message for (see DUE_UNDISPATCHED)."""
    params = {"lost": lost, "stale": stale, "limit": limit}
    return [row[0] for row in execute(DUE_UNDISPATCHED, params)]
