"""Confirming a cancel: when `operations.cancel` returns, the cancelled runs' executors
have heard it, so no further step of those runs starts.

A cancel commits (status CANCELLED) and notifies. Each executor sets the run's stop event,
which every step boundary checks, and only then answers on `store.CANCEL_ACK_CHANNEL`
(`durable.executors.cancellations`). The canceller listens, notifies the runs once more
(its own LISTEN must be in place before the answers come), and waits up to
DURABLE_CANCEL_CONFIRM_SECONDS for the owner of each run that was running. An owner that
does not answer in time — unreachable, or the cancel is still inside the caller's
transaction — is named in the result rather than pretended away: its run stops at its next
checkpoint, or at its next lease renewal, instead. An owner dead by the recovery verdict's
rule (`durable.core._serving.death_rule`) will never answer, and no step starts on it: it is
named at once, before or during the wait, as soon as the rule says so; recovery, which
takes only RUNNING runs, leaves its run CANCELLED.
"""

from __future__ import annotations

import time

import psycopg
from django.db import connection

from durable.core import _serving as serving
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
    unconfirmed = _dead({run_id: owner for run_id, owner, _ in owners})
    for run_id, owner, alive in owners:
        if not alive and run_id not in unconfirmed:
            unconfirmed[run_id] = _silent(owner, lease)
    waiting = {run_id: owner for run_id, owner, _ in owners if run_id not in unconfirmed}
    if waiting:
        timeout = settings.DURABLE_CANCEL_CONFIRM_SECONDS
        unconfirmed.update(_wait_for_answers(waiting, timeout))
        unconfirmed.update({run_id: _late(owner, timeout) for run_id, owner in waiting.items()})
    return unconfirmed


def _dead(owners: dict[str, str]) -> dict[str, str]:
    """Why, for each of the runs (run id -> owner) whose owner is dead by the recovery
    verdict's rule; none while this process has just seen an outage."""
    rule = serving.death_rule()
    if rule is None or not owners:
        return {}
    dead = store.dead_stopping_owners(list(owners), *rule)
    return {run_id: _died(owners[run_id]) for run_id in dead}


def _wait_for_answers(waiting: dict[str, str], timeout: float) -> dict[str, str]:
    """Remove from `waiting` each run whose executor answers within `timeout` seconds, or
    is found dead meanwhile (looked for once a heartbeat period: a death is known three
    heartbeats after the last one); returns the runs whose owner died, each with why."""
    deadline = time.monotonic() + timeout
    every = settings.DURABLE_HEARTBEAT_SECONDS
    died: dict[str, str] = {}
    with db.listening_connection() as listening:
        listening.execute(f"LISTEN {store.CANCEL_ACK_CHANNEL}")
        listening.execute(store.NOTIFY_CANCELLED, {"run_ids": list(waiting)})
        look_at = time.monotonic() + every
        while waiting and (left := deadline - time.monotonic()) > 0:
            _hear_answer(listening, waiting, min(left, max(0.0, look_at - time.monotonic())))
            if waiting and time.monotonic() >= look_at:
                died.update(_take_dead(waiting))
                look_at = time.monotonic() + every
    return died


def _hear_answer(listening: psycopg.Connection, waiting: dict[str, str], timeout: float) -> None:
    """Wait up to `timeout` seconds for one answer; one from a run's owner takes the run
    off `waiting`."""
    for notice in listening.notifies(timeout=timeout, stop_after=1):
        run_id, _, executor_id = notice.payload.partition(" ")
        if waiting.get(run_id) == executor_id:
            del waiting[run_id]


def _take_dead(waiting: dict[str, str]) -> dict[str, str]:
    """Take the runs whose owner is dead off `waiting`; returns them, each with why."""
    died = _dead(waiting)
    for run_id in died:
        del waiting[run_id]
    return died


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


def _died(owner: str) -> str:
    return (
        f"its executor {owner} died (its lifeline lock is gone and its heartbeats stopped), "
        "so no step of the run starts again: the run stays CANCELLED, which recovery leaves "
        "alone, and a resume goes on from its last checkpoint"
    )


def _late(owner: str, timeout: float) -> str:
    return (
        f"its executor {owner} did not answer within {timeout:g}s; it stops "
        "the run at its next checkpoint or lease renewal (a step may start before that)"
    )
