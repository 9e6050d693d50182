"""Where a waiting run stands in its queue, and how fast its queue moves.

"Ahead" follows the claims' order: the plain claim (`durable.core.store.due_runs`) takes
due runs by priority, then due time; the queue claim (`claim_in_queue`) the same in a queue
declared with priority=True, else by due time alone. Ties go by run id (the queue claim's
last key; the plain claim has none, so among runs due in the same microsecond either may
go first).
"""

from __future__ import annotations

from durable.core.store import _queues as store_queues


def runs_ahead(run_id: str) -> int:
    """Due ENQUEUED runs of its queue that claims take before `run_id`."""
    return store_queues.runs_ahead(run_id)


def starts_per_minute(queue: str, window_seconds: float = 300.0) -> float:
    """How many runs of `queue` were claimed per minute over the last `window_seconds`."""
    count = store_queues.queue_starts(queue, window_seconds)
    return count * 60.0 / window_seconds
