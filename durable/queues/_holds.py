"""Which stored limit holds a queue's due runs back right now, counted as claims count.

The health page, `/health`, `/metrics` and a run's "why isn't it moving?" ask here, so they
all say what the claim (`durable.queues.CLAIM_IN_QUEUE`) would decide: RUNNING runs against
`concurrency`, claims inside the rate window against `rate_limit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from durable.core.store import _queues as store_queues
from durable.queues._limits import Limits
from durable.queues._limits import stored as stored_limits


@dataclass(frozen=True)
class Hold:
    """A queue's limit that admits no further start now."""

    queue: str
    limit: str  # "concurrency" or "rate_limit"
    running: int
    reason: str  # a sentence for operators
    until: datetime | None  # when the rate window frees a start (None: when a run ends)


def hold(queue: str) -> Hold | None:
    """The limit of `queue` (as stored) that stops it starting a run now, or None."""
    limits = stored_limits(queue)
    if limits is None or not limits.limited:
        return None
    return hold_of(limits)


def hold_of(limits: Limits) -> Hold | None:
    count, seconds = limits.rate_limit or (None, 0.0)
    running, started, first = store_queues.queue_hold(limits.name, float(seconds))
    if limits.concurrency is not None and running >= limits.concurrency:
        return Hold(limits.name, "concurrency", running,
                    f"queue {limits.name} is at its concurrency limit ({running} of "
                    f"{limits.concurrency} running)", None)  # fmt: skip
    if count is not None and started >= count and first is not None:
        until = first + timedelta(seconds=seconds)
        reason = (f"queue {limits.name} is at its rate limit ({started} starts in the last "
                  f"{seconds:g} s, {count} allowed) until {until:%H:%M:%S} UTC")  # fmt: skip
        return Hold(limits.name, "rate_limit", running, reason, until)
    return None
