"""Delayed starts: when a run asked for with `delay=` or `at=` becomes due.

A delayed run is an ENQUEUED run whose `available_at` lies ahead, the column sleeping runs
park on: executors claim only runs that are due (`available_at <= now()`), the thread
executor polls for them and the Celery sweep dispatches them when they come due, so a
delayed start needs no mechanism of its own. Due times are on the database's clock.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from durable.core import _clock as clock
from durable.core._validation import MAX_TIMEOUT_SECONDS
from durable.errors import InvalidArgumentError


def due_at(delay: Any = None, at: Any = None) -> datetime | None:
    """The due time of a start with `delay` (a timedelta or seconds) or `at` (an aware
    datetime); None when neither is given. A time in the past is due at once."""
    if delay is not None and at is not None:
        raise InvalidArgumentError(
            "delay", "give delay= or at=, not both (delay counts from now, at is a moment)"
        )
    if at is not None:
        return _moment(at)
    if delay is not None:
        return clock.deadline(_seconds(delay))
    return None


def _moment(at: Any) -> datetime:
    if not isinstance(at, datetime):
        raise InvalidArgumentError(
            "at", f"must be a datetime, not {type(at).__name__}; use delay= for seconds"
        )
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidArgumentError(
            "at",
            f"{at.isoformat()} has no time zone, so its moment is ambiguous; pass an aware "
            "datetime, e.g. datetime(2030, 1, 1, 9, tzinfo=UTC) or timezone.now() + timedelta(…)",
        )
    return at


def _seconds(delay: Any) -> float:
    if isinstance(delay, timedelta):
        seconds = delay.total_seconds()
    elif isinstance(delay, int | float) and not isinstance(delay, bool):
        seconds = float(delay)
    else:
        raise InvalidArgumentError(
            "delay", f"must be a timedelta or a number of seconds, not {type(delay).__name__}"
        )
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidArgumentError(
            "delay", f"must be between 0 and {MAX_TIMEOUT_SECONDS} seconds, not {delay!r:.40}"
        )
    return seconds


def is_future(due: datetime | None) -> bool:
    """Whether a run due at `due` must wait (so nothing is dispatched for it yet)."""
    return due is not None and clock.seconds_until(due) > 0
