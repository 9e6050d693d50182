"""Cron arithmetic for schedules, in UTC: which ticks are due, which ones a window holds,
and the run id each tick gets. Pure functions; croniter parses the expressions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from croniter import CroniterError, croniter

from durable.errors import InvalidArgumentError

MAX_CATCH_UP = 100
SPACING_SAMPLE = 60  # ticks looked at for the shortest spacing (a seconds field repeats in 60)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # croniter counts from the epoch


def check(cron: object, min_interval: float | None = None) -> str:
    """A cron expression croniter accepts that fires again (not on 31 February), at most
    once per `min_interval` seconds; else InvalidArgumentError with an example."""
    if not isinstance(cron, str) or len(cron) > 100 or not croniter.is_valid(cron):
        raise InvalidArgumentError(
            "cron",
            f"invalid cron expression {str(cron)[:100]!r}; use minute hour day-of-month month "
            "day-of-week, in UTC, e.g. '*/5 * * * *' (every 5 min) or '0 3 * * 1' (Mondays 03:00)",
        )
    ticks = _next_ticks(cron, datetime.now(UTC), SPACING_SAMPLE)
    if not ticks:
        raise InvalidArgumentError(
            "cron",
            f"{cron!r} never fires (no such date, e.g. 31 February, or a year gone by); "
            "check the day-of-month and month fields",
        )
    spacing = min(((b - a).total_seconds() for a, b in pairwise(ticks)), default=None)
    if min_interval is not None and spacing is not None and spacing < min_interval:
        raise InvalidArgumentError(
            "cron",
            f"{cron!r} fires every {spacing:g}s; schedules fire at most once per "
            f"{min_interval:g}s (DURABLE_SCHEDULE_MIN_INTERVAL_SECONDS): use a workflow "
            "that loops with durable.sleep for anything more frequent",
        )
    return cron


def _next_ticks(cron: str, after: datetime, count: int) -> list[datetime]:
    iterator = croniter(cron, after)
    ticks: list[datetime] = []
    try:
        while len(ticks) < count:
            ticks.append(iterator.get_next(datetime))
    except CroniterError:  # no further date: ticks holds all there are
        pass
    return ticks


def run_id_for(name: str, tick: datetime) -> str:
    """The run id of a schedule's tick: the same tick always names the same run."""
    return f"{name}@{tick.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def latest_tick(cron: str, now: datetime) -> datetime:
    """The newest tick at or before `now`: where a new or resumed schedule starts counting."""
    return croniter(cron, now + timedelta(microseconds=1)).get_prev(datetime)


def next_tick(cron: str, after: datetime) -> datetime:
    return croniter(cron, after).get_next(datetime)


def ticks_between(cron: str, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """Ticks in [start, end), oldest first; at most `limit` + 1 (so a caller sees "too many")."""
    iterator = croniter(cron, start - timedelta(microseconds=1))
    ticks: list[datetime] = []
    while len(ticks) <= limit:
        tick = iterator.get_next(datetime)
        if tick >= end:
            break
        ticks.append(tick)
    return ticks


@dataclass(frozen=True)
class DueTicks:
    """The newest due ticks (oldest first, at most MAX_CATCH_UP) and how many were due in
    all: exact while the walk back reaches the last tick, estimated from the cron's spacing
    beyond it (a per-minute cron down for 30 days has 43,200)."""

    ticks: list[datetime]
    total: int


def due_ticks(cron: str, last: datetime, now: datetime, limit: int = MAX_CATCH_UP) -> DueTicks:
    """Ticks after `last` up to and including `now`, found by walking back from `now`, so
    the cost is `limit` steps however long the outage was."""
    iterator = croniter(cron, now + timedelta(microseconds=1))
    newest_first: list[datetime] = []
    while len(newest_first) <= limit:  # one beyond the limit tells whether more were due
        tick = iterator.get_prev(datetime)
        if tick <= last:
            return DueTicks(newest_first[::-1], len(newest_first))
        newest_first.append(tick)
    return DueTicks(newest_first[:limit][::-1], _estimate_total(newest_first, last))


def _estimate_total(newest_first: list[datetime], last: datetime) -> int:
    """Ticks walked plus those between `last` and the oldest walked, at the walked spacing."""
    oldest = newest_first[-1]
    spacing = (newest_first[0] - oldest) / (len(newest_first) - 1)
    return len(newest_first) + max(int((oldest - last) / spacing) - 1, 0)


def ticks_to_run(due: DueTicks, policy: str) -> list[datetime]:
    if policy == "all":
        return due.ticks[-MAX_CATCH_UP:]
    if policy == "skip":
        return due.ticks[-1:] if due.total == 1 else []
    return due.ticks[-1:]
