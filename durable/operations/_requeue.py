"""Move waiting runs in line: to another queue, or ahead by priority. The operator's ways
out for a run held behind a backlog or a full queue ("why isn't it moving?")."""

from __future__ import annotations

from durable import queues
from durable.core.store import _trees as store_trees
from durable.models import RunStatus
from durable.operations._batches import BulkResult, locked_statuses, split_by_status


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
        moved = store_trees.requeue_runs(eligible, queue, priority)
        result.done.update({run_id: run_id for run_id in eligible if run_id in moved})
    return result
