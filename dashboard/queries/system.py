"""The system health page: what serves which workflow versions, and cron schedules' ticks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from croniter import croniter
from django.utils import timezone

from durable.conf import settings
from durable.models import Executor, Schedule


def live_executors() -> list[dict[str, Any]]:
    """Executors that heartbeat within two lease periods, with the versions they serve."""
    alive_after = timezone.now() - timezone.timedelta(seconds=2 * settings.DURABLE_LEASE_SECONDS)
    return [
        {"executor": executor, "serves": sorted(executor.workflows)}
        for executor in Executor.objects.filter(last_seen_at__gt=alive_after).order_by("id")
    ]


def schedules() -> list[dict[str, Any]]:
    """Each cron schedule with its last and next tick and the ticks it missed."""
    now = timezone.now()
    return [
        {
            "schedule": schedule,
            "next_tick": croniter(schedule.cron, now).get_next(datetime),
        }
        for schedule in Schedule.objects.order_by("workflow")
    ]
