"""Confirming a cancel: when `operations.cancel` returns, the cancelled runs' executors
have heard it, so no further step of those runs starts.

A cancel commits (status CANCELLED) and notifies. Each executor sets the run's stop event,
which every step boundary checks, and only then answers on `store.CANCEL_ACK_CHANNEL`
(`durable.executors.cancellations`). The canceller listens, notifies the runs once more
(its own LISTEN must be in place before the answers come), and waits up to
DURABLE_CANCEL_CONFIRM_SECONDS for the owner of each run that was running. An owner that
does not answer in time — dead, unreachable, or the cancel is still inside the caller's
transaction — is named in the result rather than pretended away: its run stops at its next
checkpoint, or at its next lease renewal, instead.
"""

from __future__ import annotations

import time

from django.db import connection

from durable.core import store
from durable.core.conf import settings
from durable.core.store import _db as db


def confirm_stopped(run_ids: list[str]) -> dict[str, str]:
    """Wait for the executors of the just-cancelled `run_ids` that were running; returns
    the runs whose stop is not confirmed, each with why (empty: all confirmed)."""
    lease = settings.DURABLE_LEASE_SECONDS
    owners = store.stopping_owners(run_ids, lease)
    if connection.in_atomic_block:
        return {run_id: _uncommitted(owner) for run_id, owner, _ in owners}
    unconfirmed = {run_id: _silent(owner, lease) for run_id, owner, alive in owners if not alive}
    waiting = {run_id: owner for run_id, owner, alive in owners if alive}
    if waiting:
        timeout = settings.DURABLE_CANCEL_CONFIRM_SECONDS
        _wait_for_answers(waiting, timeout)
        unconfirmed.update({run_id: _late(owner, timeout) for run_id, owner in waiting.items()})
    return unconfirmed


def _wait_for_answers(waiting: dict[str, str], timeout: float) -> None:
    """Remove from `waiting` each run whose executor answers within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with db.listening_connection() as listening:
        listening.execute(f"LISTEN {store.CANCEL_ACK_CHANNEL}")
        listening.execute(store.NOTIFY_CANCELLED, {"run_ids": list(waiting)})
        while waiting and (left := deadline - time.monotonic()) > 0:
            for notice in listening.notifies(timeout=left, stop_after=1):
                run_id, _, executor_id = notice.payload.partition(" ")
                if waiting.get(run_id) == executor_id:
                    del waiting[run_id]


def _uncommitted(owner: str) -> str:
    return (
        f"the cancel commits with the caller's transaction, and its executor "
        f"{owner} hears of it then (a step may start there until it does)"
    )


def _silent(owner: str, lease: float) -> str:
    return (
        f"its executor {owner} has sent no heartbeat for over {lease:g}s; if "
        "it is alive it stops the run at its next checkpoint or lease renewal"
    )


def _late(owner: str, timeout: float) -> str:
    return (
        f"its executor {owner} did not answer within {timeout:g}s; it stops "
        "the run at its next checkpoint or lease renewal (a step may start before that)"
    )
