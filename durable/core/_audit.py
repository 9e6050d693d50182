"""Who is acting: the operator (or system user) that audit entries name.

Operator actions (durable.operations), stored queue limits (durable.queues) and schedules
managed at run time all write audit entries; they read the acting operator here, below
all of them, so none imports another for it.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_actor: ContextVar[str | None] = ContextVar("durable_actor", default=None)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Attribute the operations inside the block to `actor` in the audit log."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor(actor: str | None = None) -> str:
    if actor:
        return actor
    return _actor.get() or f"system:{_os_user()}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"
