"""Move waiting runs in line: to another queue, or ahead by priority. The operator's ways
out for a run held behind a backlog or a full queue ("why isn't it moving?")."""

from __future__ import annotations

from durable import queues
from durable.core.store import execute
from durable.models import RunStatus
from durable.operations._batches import BulkResult, locked_statuses, split_by_status

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


def _refusal(status: str) -> str:
    return f"it is {status}; only an enqueued run waits in line"


def requeue_batch(batch: list[str], queue: str | None, priority: int | None) -> BulkResult:
    """Move the batch's ENQUEUED runs (locked here) to `queue` and/or `priority`."""
    statuses = locked_statuses(batch)
    # mypy reads a TextChoices member as its (value, label) tuple
    enqueued: tuple[str, ...] = (RunStatus.ENQUEUED,)  # type: ignore[assignment]
    eligible, result = split_by_status(batch, statuses, enqueued, _refusal)
    if eligible:
        queues.ensure_stored(queue)  # a declared queue's limits hold from the first claim
        params = {"run_ids": eligible, "queue": queue, "priority": priority}
        moved = {row[0] for row in execute(REQUEUE_RUNS, params)}
        result.done.update({run_id: run_id for run_id in eligible if run_id in moved})
    return result
