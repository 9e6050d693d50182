"""Request ids for the dashboard's actions: the same form sent twice names the same request,
so the engine (`request_id`, or a run id that is an idempotency key) acts once.

A form rendered by the dashboard carries `seen` (when the page was loaded): the id is the
user, the action, what the form says and `seen`. A post without it (a script, an old page,
a hand-made request) gets an id from the same parts and a time window instead: a repeat
within WINDOW_SECONDS is the same request (the previous window's id is reused when it was
acted on, so a double click across a window's edge is still one request).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.http import HttpRequest
from django.utils import timezone

from durable.models import AuditEntry

WINDOW_SECONDS = 60


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def request_id(
    request: HttpRequest,
    action: str,
    parts: Iterable[str],
    seen: datetime | None,
    acted_on: Callable[[str], bool] | None = None,
    now: datetime | None = None,
) -> str:
    """The request id of this form; `acted_on(id)` says whether an id was already used
    (default: an audit entry of `action` carries it)."""
    base = [request.user.get_username(), action, *parts]
    if seen is not None:
        return _digest([*base, seen.isoformat()])
    window = int((now or timezone.now()).timestamp() // WINDOW_SECONDS)
    current, previous = (_digest([*base, f"window-{at}"]) for at in (window, window - 1))
    used = acted_on or (lambda rid: _audited(action, rid))
    return previous if used(previous) else current


def _audited(action: str, rid: str) -> bool:
    """Whether an entry of the last two windows carries `rid` (a range of audit_created_idx,
    not a scan of the whole log)."""
    recent = timezone.now() - timedelta(seconds=2 * WINDOW_SECONDS)
    return AuditEntry.objects.filter(
        created_at__gte=recent, action=action, detail__request_id=rid
    ).exists()


def keyed(username: str, action: str, key: str) -> str:
    """The request id of an API call that names its own (`Idempotency-Key`): the same key
    from the same user for the same action is one request, however late it is repeated."""
    return _digest([username, action, "key", key])
