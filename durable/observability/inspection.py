"""The engine's public read API for what sits on top of it: the dashboard, the CLI, an
application's own pages.

Everything here returns typed records or Django expressions over the public models, never
cursors or SQL text: a reader outside the engine needs no store internals (and
tests/test_engine_boundary.py holds the dashboard, the demo and config to that). Per-run
records (`get_run`, `list_steps`, …) are `durable.introspection`'s; this module adds what
an operator's view needs beside them.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import FloatField
from django.db.models.expressions import RawSQL

from durable.core import _registry as registry
from durable.core import _serving as serving
from durable.core.store import _durations as durations
from durable.core.store import _reading as reading
from durable.observability import _health as health
from durable.observability import _untaken as untaken
from durable.observability._health import Check
from durable.observability._replica import (
    ReadState,
    primary_position,
    primary_reads,
    read_on_replica,
    replica_reads,
)
from durable.observability._untaken import Untaken

__all__ = [
    "Check",
    "HealthReport",
    "ReadState",
    "TimeSplit",
    "Untaken",
    "active_ms_expression",
    "health_report",
    "primary_position",
    "primary_reads",
    "read_alias",
    "read_on_replica",
    "replica_reads",
    "time_split",
    "untaken_runs",
    "workflow_parameters",
]


@dataclass(frozen=True)
class TimeSplit:
    """A run's time since it first started, in ms: executing steps and retries (`active`)
    and everything else — failed before a resume, sleeping, waiting (`parked`)."""

    active: float
    parked: float


def time_split(run: Any, steps: list[Any], attempts: list[Any], now: datetime) -> TimeSplit:
    """Active and parked ms of `run` (a `durable.models.Run`) from its loaded steps and
    attempts; a running run's unrecorded work so far counts as active."""
    split = durations.split(run, steps, attempts, now)
    return TimeSplit(active=split["active"], parked=split["parked"])


def active_ms_expression(within: tuple[str, list[Any]] | None = None) -> RawSQL:
    """A run's active ms as an expression for `Run.objects.annotate(…)`: the same sum the
    engine writes into `Run.active_ms` when the run ends, computed for one still going.
    `within` (SQL on run_created_at, its `%s` parameters) bounds the history read by the
    runs' creation times, so the other days' partitions are pruned while it is planned."""
    if within is None:
        return RawSQL(durations.ACTIVE_MS_SQL.format(run='"durable_run"'), [], FloatField())
    condition, params = within
    sql = durations.active_ms_within_sql('"durable_run"', condition)
    return RawSQL(sql, params * sql.count(condition), FloatField())  # once a read


def workflow_parameters(workflow: str) -> list[str] | None:
    """The parameter names of a workflow this process has the code of (None otherwise), so
    an operator editing a run's input sees what `args[1]` is."""
    registry.autodiscover()
    if not registry.is_registered(workflow):
        return None
    try:
        return list(inspect.signature(registry.get_workflow(workflow).func).parameters)
    except (TypeError, ValueError):  # a callable whose signature Python cannot read
        return None


@dataclass(frozen=True)
class HealthReport:
    """The `/health` checks: `healthy` only if every check run passed; `status` is "ok",
    "degraded" (healthy, but due runs wait untaken) or "unhealthy"."""

    healthy: bool
    status: str
    checks: list[Check]


def health_report(skip: Iterable[str] = ()) -> HealthReport:
    """The checks behind `/health` (database, migrations, executors, untaken runs), those
    named in `skip` left out; they stop at the first failure."""
    checks = health.run_checks(frozenset(skip))
    return HealthReport(all(check.ok for check in checks), health.status(checks), checks)


def live_executor_ids() -> set[str]:
    """The executors `/health` counts as live, draining ones included: heard from within
    two leases, and not dead by the recovery verdict's rule (a killed one drops out within
    seconds)."""
    return {executor.id for executor in serving.live_executors()}


def untaken_runs(sample: int = 10) -> list[Untaken]:
    """Groups of due runs that no executor takes (all drained, no executor runs their
    version, their queue's limit full), each with why and up to `sample` run ids."""
    return untaken.untaken(sample)


def read_alias() -> str:
    """The Django database alias a page's own SQL reads from now: the read replica inside
    `replica_reads()` (when it answers), else the primary."""
    return reading.read_alias()
