"""Queue limits stored in PostgreSQL (the durable_queue table), so they hold everywhere.

A declaration in code (`durable.Queue`) upserts its queue's row; when two deployed versions
declare different limits, the last declaration wins, with a warning in the log and a notice
on the row (the dashboard shows it). An operator's override (`set_limits`, the CLI, the
dashboard) wins over every declaration until `reset_limits`. Claims read the effective
limits from the row (`durable.queues`), so a process that never imported the declaration
claims within them; a queue with no row has no limits.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from durable.core._identity import hostname
from durable.core._validation import INT32, MAX_TIMEOUT_SECONDS, free_text, text
from durable.errors import InvalidArgumentError, UnknownQueueError

if TYPE_CHECKING:  # the models load once Django's apps are ready; Queue may come first
    from durable.models import StoredQueue

logger = logging.getLogger("durable")

FIELDS = ("concurrency", "worker_concurrency", "rate_limit", "priority")


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()  # set_limits: leave this limit as it is


@dataclass(frozen=True)
class Limits:
    """A queue's limits; None means no limit."""

    name: str
    concurrency: int | None = None
    worker_concurrency: int | None = None
    rate_limit: tuple[int, float] | None = None
    priority: bool = False

    @property
    def limited(self) -> bool:
        return (
            self.concurrency is not None
            or self.worker_concurrency is not None
            or self.rate_limit is not None
        )

    @property
    def special(self) -> bool:
        """Its runs cannot take the plain claim: limited, or ordered by priority."""
        return self.limited or self.priority

    def as_dict(self) -> dict[str, Any]:
        rate = list(self.rate_limit) if self.rate_limit else None
        return {"concurrency": self.concurrency, "worker_concurrency": self.worker_concurrency,
                "rate_limit": rate, "priority": self.priority}  # fmt: skip


def check(name: str, **limits: Any) -> dict[str, Any]:
    """The given limits, normalized (rate_limit as (int, float)), or InvalidArgumentError
    naming the limit and what it accepts."""
    checked = {}
    for field, value in limits.items():
        if field in ("concurrency", "worker_concurrency"):
            if value is not None and (type(value) is not int or not 1 <= value <= INT32[1]):
                raise InvalidArgumentError(
                    field, f"queue {name!r}: must be a positive int (or None for no limit)"
                )
        elif field == "rate_limit":
            value = _rate(name, value)
        elif field == "priority":
            if type(value) is not bool:
                raise InvalidArgumentError(field, f"queue {name!r}: must be True or False")
        else:
            raise InvalidArgumentError(field, f"is not a queue limit; use one of {FIELDS}")
        checked[field] = value
    return checked


def _rate(name: str, value: Any) -> tuple[int, float] | None:
    if value is None:
        return None
    problem = InvalidArgumentError(
        "rate_limit", f"queue {name!r}: is (runs, seconds), e.g. (50, 60), or None for no limit"
    )
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise problem
    count, seconds = value
    if type(count) is not int or not 1 <= count <= INT32[1]:
        raise problem
    if type(seconds) not in (int, float) or not 0 < seconds <= MAX_TIMEOUT_SECONDS:
        raise problem
    if math.isnan(seconds):
        raise problem
    return count, float(seconds)


def limits_of(row: StoredQueue) -> Limits:
    """The effective limits a stored row holds."""
    rate = (row.rate_count, row.rate_seconds) if row.rate_count is not None else None
    return Limits(row.name, row.concurrency, row.worker_concurrency, rate, row.priority)


def _fields(values: dict[str, Any] | None) -> dict[str, Any]:
    """Limits from their JSON form (declared, override): only the fields present."""
    fields = {field: value for field, value in (values or {}).items() if field in FIELDS}
    if fields.get("rate_limit") is not None:
        fields["rate_limit"] = tuple(fields["rate_limit"])
    return fields


def _effective(row: StoredQueue) -> Limits:
    """What code declared, with the operator's override on top (a field the override sets
    to None means no limit, whatever code declares)."""
    return Limits(row.name, **{**_fields(row.declared), **_fields(row.override)})


def _apply(row: StoredQueue) -> None:
    limits = _effective(row)
    row.concurrency = limits.concurrency
    row.worker_concurrency = limits.worker_concurrency
    row.rate_count, row.rate_seconds = limits.rate_limit or (None, None)
    row.priority = limits.priority
    row.updated_at = timezone.now()


def declare(limits: Limits, declared_in: str = "") -> Limits:
    """Record what code declares for a queue; returns the effective limits (an operator's
    override still wins). A different earlier declaration is replaced, with a warning."""
    from durable.models import StoredQueue

    me = f"{hostname()}:{os.getpid()}"
    with transaction.atomic():
        row, created = StoredQueue.objects.select_for_update().get_or_create(name=limits.name)
        if not created and row.declared is not None and row.declared != limits.as_dict():
            row.notice = (
                f"declared as {row.declared} by {row.declared_by} ({row.declared_in}) at "
                f"{row.declared_at:%Y-%m-%d %H:%M:%S}, then as {limits.as_dict()} by {me} "
                f"({declared_in}); the last declaration wins"
            )
            logger.warning("queue %r: %s", limits.name, row.notice)
        elif row.declared == limits.as_dict():
            row.notice = ""  # the versions agree again
        row.declared = limits.as_dict()
        row.declared_by, row.declared_in = me, declared_in[:300]
        row.declared_at = timezone.now()
        _apply(row)
        row.save()
    return limits_of(row)


def set_limits(
    name: str,
    *,
    concurrency: int | None = UNCHANGED,
    worker_concurrency: int | None = UNCHANGED,
    rate_limit: tuple[int, float] | None = UNCHANGED,
    priority: bool = UNCHANGED,
    actor: str | None = None,
    reason: str = "",
) -> Limits:
    """Override a queue's limits at run time (None: no limit; left out: unchanged). The
    override wins over code declarations, across deploys, until `reset_limits`. Audited;
    the next claim in the queue obeys it. A queue nobody declared yet gets a row."""
    from durable.models import StoredQueue

    text("name", name, optional=False)
    given: dict[str, Any] = {"concurrency": concurrency, "worker_concurrency": worker_concurrency,
                             "rate_limit": rate_limit, "priority": priority}  # fmt: skip
    given = check(name, **{k: v for k, v in given.items() if v is not UNCHANGED})
    free_text("reason", reason)
    with transaction.atomic():
        row, _ = StoredQueue.objects.select_for_update().get_or_create(name=name)
        before = limits_of(row)
        as_json = Limits(name, **given).as_dict()
        row.override = {**(row.override or {}), **{field: as_json[field] for field in given}}
        return _save_operator_change(row, before, "queue_set_limits", actor, reason)


def reset_limits(name: str, *, actor: str | None = None, reason: str = "") -> Limits:
    """Drop the operator's override: the queue follows its code declaration again."""
    from durable.models import StoredQueue

    text("name", name, optional=False)
    free_text("reason", reason)

    with transaction.atomic():
        row = StoredQueue.objects.select_for_update().filter(name=name).first()
        if row is None:
            raise UnknownQueueError(
                f"no queue {name!r} is stored; `manage.py durable queues list` shows them"
            )
        before = limits_of(row)
        row.override = None
        return _save_operator_change(row, before, "queue_reset_limits", actor, reason)


def _save_operator_change(
    row: StoredQueue, before: Limits, action: str, actor: str | None, reason: str
) -> Limits:
    from durable.core._audit import current_actor
    from durable.models import AuditEntry

    who = current_actor(actor)
    row.overridden_by = who if row.override is not None else ""
    row.overridden_at = timezone.now() if row.override is not None else None
    _apply(row)
    row.save()
    after = limits_of(row)
    AuditEntry.objects.create(actor=who, action=action, detail={
        "queue": row.name, "before": before.as_dict(), "after": after.as_dict(),
        "override": row.override, "reason": reason})  # fmt: skip
    return after


def stored(name: str) -> Limits | None:
    from durable.models import StoredQueue

    row = StoredQueue.objects.filter(name=name).first()
    return limits_of(row) if row is not None else None


def special() -> list[Limits]:
    """The stored queues whose runs take the queue claim (limited or by priority)."""
    from durable.models import StoredQueue

    rows = StoredQueue.objects.filter(
        Q(concurrency__isnull=False)
        | Q(worker_concurrency__isnull=False)
        | Q(rate_count__isnull=False)
        | Q(priority=True)
    ).order_by("name")
    return [limits_of(row) for row in rows]


def all_queues() -> list[StoredQueue]:
    """Every stored queue, by name, with its declaration and override (CLI, dashboard)."""
    from durable.models import StoredQueue

    return list(StoredQueue.objects.order_by("name"))
