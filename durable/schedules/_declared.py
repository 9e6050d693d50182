"""Schedules declared in code with `@durable.scheduled`: this process's registry of them,
and the checks on a schedule's cron, missed policy and name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from durable.core._decorators import workflow
from durable.schedules._cron import check as check_cron
from durable.schedules._cron import run_id_for

MISSED_POLICIES = ("latest", "all", "skip")


@dataclass(frozen=True)
class ScheduleDefinition:
    workflow: Callable[..., Any]
    name: str
    cron: str
    missed: str


_schedules: dict[str, ScheduleDefinition] = {}


def scheduled(cron: str, *, missed: str = "latest", name: str | None = None, **options: Any):
    """Make a workflow run on a cron schedule; it receives the tick as an ISO-8601 string."""
    check_cron(cron)
    check_policy(missed)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = workflow(name=name, **options)(func)
        definition_name = wrapped.__durable_workflow__.name
        _check_run_ids(definition_name)
        _schedules[definition_name] = ScheduleDefinition(wrapped, definition_name, cron, missed)
        return wrapped

    return decorate


def check_policy(missed: Any) -> str:
    from durable.errors import InvalidArgumentError

    if missed not in MISSED_POLICIES:
        raise InvalidArgumentError("missed", f"must be one of {MISSED_POLICIES}, not {missed!r}")
    return missed


def _check_run_ids(name: str) -> None:
    """A tick's run id is derived from the workflow's name: refuse names that cannot form one
    (a nested function's `<locals>`, a space) here, not at every tick."""
    from durable.core._validation import validate_run_id
    from durable.errors import InvalidRunIdError

    try:
        validate_run_id(run_id_for(name, datetime(2000, 1, 1, tzinfo=UTC)))
    except InvalidRunIdError:
        raise ValueError(
            f"scheduled workflow {name!r} cannot name its runs ({name!r} + '@<tick>'); give it "
            "a name of letters, digits and ._:@/+=-, e.g. @durable.scheduled(..., "
            "name='reports.nightly'), and define it at module level"
        ) from None


def registered() -> list[ScheduleDefinition]:
    """The schedules this process declares in code."""
    return [*_schedules.values()]


def declared(name: str) -> ScheduleDefinition | None:
    return _schedules.get(name)
