"""The system health page: what serves which workflow versions, and cron schedules' ticks."""

from __future__ import annotations

from typing import Any

from durable import schedules as durable_schedules
from durable.models import Executor
from durable.observability import inspection


def live_executors() -> list[dict[str, Any]]:
    """The executors `/health` counts as live, with the versions they serve."""
    live = inspection.live_executor_ids()
    return [
        {"executor": executor, "serves": sorted(executor.workflows)}
        for executor in Executor.objects.filter(id__in=live).order_by("id")
    ]


def schedules() -> list[Any]:
    """Every cron schedule, code and API, with its last and next tick, missed ticks and
    whether it is paused (`durable.schedules.list`)."""
    return durable_schedules.list()
