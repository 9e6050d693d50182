"""Cron schedules: `@durable.scheduled("*/5 * * * *")` declares one in code, and
`durable.schedules.create(...)` (with update, pause, resume, delete, trigger, backfill, get
and list, in `durable.schedules._admin`) manages them at run time.

Both kinds are rows of `durable_schedule`, fired by `durable.schedules._ticker`: one run per
tick, its id
derived from the tick (`name@20261126T101500Z`). A scheduled run is called as
`workflow(scheduled_at, *args, **kwargs)`, `scheduled_at` being the tick in ISO 8601.
"""

from __future__ import annotations

import importlib
from typing import Any

from durable.schedules._declared import (
    MISSED_POLICIES,
    ScheduleDefinition,
    check_policy,
    declared,
    registered,
    scheduled,
)

__all__ = [
    "ADMIN",
    "MISSED_POLICIES",
    "ScheduleDefinition",
    "check_policy",
    "declared",
    "registered",
    "scheduled",
]

# managed at run time: these live in durable.schedules._admin, imported when first used
ADMIN = ("create", "update", "pause", "resume", "delete", "trigger", "backfill", "get", "list")


def __getattr__(name: str) -> Any:
    """`durable.schedules.create(...)` and the rest, without importing the ORM at import."""
    if name in ADMIN:
        return getattr(importlib.import_module("durable.schedules._admin"), name)
    raise AttributeError(f"module 'durable.schedules' has no attribute {name!r}")
