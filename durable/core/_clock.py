"""The one clock: every deadline, wake-up and due time is the database's `now()`.

Runs are parked with `available_at`, recovered by `lease_expires_at` and judged against
`deadline_at`, and PostgreSQL compares those with its own `now()`. So Python must compute
them on the same clock: a worker whose wall clock is off by seconds would otherwise park
runs too long or wake them early. `now()` reads the database's clock once, then advances it
with this process's monotonic clock (never the wall clock), re-reading it every
RESYNC_SECONDS, so checking a deadline costs no round trip.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from durable.core import store

RESYNC_SECONDS = 60.0

_lock = threading.Lock()
_synced: tuple[datetime, float] | None = None  # (database time, monotonic time) read together


def now() -> datetime:
    """The database's current time (timezone-aware), without a round trip most calls."""
    synced = _synced
    if synced is None or time.monotonic() - synced[1] > RESYNC_SECONDS:
        synced = sync()
    database_time, at = synced
    return database_time + timedelta(seconds=time.monotonic() - at)


def deadline(seconds: float) -> datetime:
    """The database time `seconds` from now: a durable deadline or wake-up time."""
    return now() + timedelta(seconds=max(seconds, 0.0))


def seconds_until(moment: datetime) -> float:
    """Seconds from the database's now until `moment` (negative once it has passed)."""
    return (moment - now()).total_seconds()


def sync() -> tuple[datetime, float]:
    """Read the database's clock; halfway through the round trip is when it was read."""
    global _synced
    before = time.monotonic()
    database_time = store.database_clock()  # retried in place if the connection drops
    after = time.monotonic()
    with _lock:
        _synced = (database_time, (before + after) / 2)
        return _synced
