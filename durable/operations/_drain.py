"""Draining an executor on an operator's word: it claims no new runs, and those in flight
finish there (or, past an optional deadline, are released for other executors).

The mark lives on the executor's row (`durable_executor.draining`), so it survives a missed
message: the executor reads it back with every heartbeat. It is also notified at once on
the drain channel (`drain:<id>:<seconds>` / `undrain:<id>:`), which every executor hears;
not on the cancel channel, whose payloads are run ids and may look like anything.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from durable.core import _validation as validation
from durable.core import store
from durable.core.store._channels import drain_notice
from durable.errors import ExecutorNotFoundError, InvalidArgumentError
from durable.models import AuditEntry


def set_draining(
    executor_id: str,
    draining: bool,
    *,
    actor: str,
    reason: str = "",
    release_after: float | None = None,
) -> None:
    """Mark (or unmark) the executor and audit it as `actor`; ExecutorNotFoundError if no
    executor row has that id."""
    validation.text("executor_id", executor_id, optional=False)
    validation.free_text("reason", reason)
    if release_after is not None:
        _check_release_after(release_after, draining)
    notice = drain_notice(executor_id, draining, release_after)
    params = {"executor_id": executor_id, "draining": draining,
              "release_after": release_after, "notice": notice}  # fmt: skip
    with transaction.atomic():
        if not store.set_draining(params):
            raise ExecutorNotFoundError(
                f"no executor {executor_id!r}: it stopped, or the id is mistyped; the "
                "dashboard's Health page lists the live ones"
            )
        detail: dict[str, Any] = {"executor": executor_id, "reason": reason}
        if release_after is not None:
            detail["release_after"] = release_after
        AuditEntry.objects.create(
            actor=actor, action="drain" if draining else "undrain", detail=detail
        )


def _check_release_after(seconds: Any, draining: bool) -> None:
    if not draining:
        raise InvalidArgumentError("release_after", "applies to a drain, not an undrain")
    try:
        validation.timeout(seconds)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError("release_after", str(exc).split(": ", 1)[1]) from None
