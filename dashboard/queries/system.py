"""The system health page: what serves which workflow versions, and cron schedules' ticks."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from durable import schedules as durable_schedules
from durable.core.conf import settings
from durable.models import Executor


def live_executors() -> list[dict[str, Any]]:
    """Executors that heartbeat within two lease periods, with the versions they serve."""
    alive_after = timezone.now() - timezone.timedelta(seconds=2 * settings.DURABLE_LEASE_SECONDS)
    return [
        {"executor": executor, "serves": sorted(executor.workflows)}
        for executor in Executor.objects.filter(last_seen_at__gt=alive_after).order_by("id")
    ]


def schedules() -> list[Any]:
    """Every cron schedule, code and API, with its last and next tick, missed ticks and
    whether it is paused (`durable.schedules.list`)."""
    return durable_schedules.list()
