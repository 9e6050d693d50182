"""Checks on the arguments of `durable.schedules.create / update / backfill`, before
anything is written: each refusal names the argument and says what to do."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

from durable.core import _clock as clock
from durable.core import _registry as registry
from durable.core import _start as api
from durable.core import _validation as validation
from durable.core._serialization import dumps
from durable.core.conf import settings
from durable.errors import InvalidArgumentError, SerializationError
from durable.queues import Queue
from durable.schedules import _cron as cron

MAX_NAME_CHARS = 160  # so "<name>@<tick>" and "<name>@manual-<id>" fit a run id
# start()'s own keywords: a schedule's kwargs cannot reach the workflow under these names
START_OPTIONS = frozenset(inspect.signature(api.start).parameters) - {"workflow", "args", "kwargs"}


def discover(workflow: Any) -> None:
    """A web or CLI process knows the installed apps' workflows too, once it looks."""
    if isinstance(workflow, str) and not registry.is_registered(workflow):
        registry.autodiscover()


def name(value: Any) -> str:
    """A schedule name that forms valid run ids for its ticks and manual triggers."""
    validation.text("name", value, max_length=MAX_NAME_CHARS, optional=False)
    try:
        validation.validate_new_run_id(cron.run_id_for(value, datetime(2000, 1, 1, tzinfo=UTC)))
    except Exception:  # noqa: BLE001 - InvalidRunIdError, reworded for a schedule name
        raise InvalidArgumentError(
            "name",
            f"{value[:80]!r} cannot name runs ('<name>@<tick>'): use letters, digits and "
            "._:@/+=- starting with a letter or digit, e.g. 'reports.nightly-emea'",
        ) from None
    return value


def cron_expression(expression: Any) -> str:
    return cron.check(expression, float(settings.DURABLE_SCHEDULE_MIN_INTERVAL_SECONDS))


def definition(workflow: Any) -> registry.WorkflowDefinition:
    discover(workflow)
    try:
        return api.resolve(workflow)
    except TypeError as exc:
        raise InvalidArgumentError("workflow", str(exc)) from None


def run_input(definition: registry.WorkflowDefinition, args: Any, kwargs: Any) -> dict[str, Any]:
    """The JSON input every run receives after its tick; it must bind to the workflow."""
    args = [] if args is None else args
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(args, list | tuple):
        raise InvalidArgumentError("args", f"must be a list, not {type(args).__name__}")
    if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
        raise InvalidArgumentError("kwargs", "must be a dict with string keys")
    if taken := sorted(START_OPTIONS.intersection(kwargs)):
        raise InvalidArgumentError(
            "kwargs", f"{taken} are durable.start()'s own options; rename those parameters"
        )
    _storable(definition.name, args, kwargs)
    signature = inspect.signature(definition.func)
    try:
        signature.bind("2026-01-01T00:00:00+00:00", *args, **kwargs)
    except TypeError as exc:
        raise InvalidArgumentError(
            "args",
            f"the input does not fit {definition.name}{signature}: {exc}; a scheduled run is "
            "called as workflow(scheduled_at, *args, **kwargs)",
        ) from None
    return {"args": [*args], "kwargs": dict(kwargs)}


def _storable(workflow: str, args: Any, kwargs: Any) -> None:
    """Each part alone, so a refusal names it (`arguments`); then both, for the size limit."""
    parts = {"args": args, "kwargs": kwargs}
    for argument, value in parts.items():
        _dumps_for((argument,), value, f"schedule {argument} of {workflow}")
    _dumps_for(tuple(parts), parts, f"schedule args and kwargs of {workflow}, together")


def _dumps_for(arguments: tuple[str, ...], value: Any, where: str) -> None:
    try:
        dumps(value, where=where)
    except SerializationError as exc:
        raise type(exc)(str(exc), arguments=arguments) from exc


def queue(queue: Any) -> str | None:
    return queue.name if isinstance(queue, Queue) else validation.text("queue", queue)


def flag(argument: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(argument, f"must be True or False, not {value!r:.40}")
    return value


def window(start: Any, end: Any) -> tuple[datetime, datetime]:
    for argument, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise InvalidArgumentError(
                argument, "must be an aware datetime, e.g. datetime(2026, 11, 1, tzinfo=UTC)"
            )
    if start < cron.EARLIEST:
        raise InvalidArgumentError(
            "start", f"must be in 1970 or later, not {start:%Y-%m-%d}: cron ticks start there"
        )
    if start >= end:
        raise InvalidArgumentError("end", "must be after start")
    if end > clock.now():
        raise InvalidArgumentError("end", "must not be in the future: backfill runs past ticks")
    return start.astimezone(UTC), end.astimezone(UTC)
