"""The sweep: recover runs of dead workers and dispatch runs that have no message.

A run needs a message whenever it is ENQUEUED and due: after recovery, when a sleep or a
delayed start comes due, when a limited queue frees a slot, and when its message was lost
(broker outage, a message dropped by a crashed worker). The sweep also fires cron
schedules. Every Celery worker runs it in its maintenance thread (DURABLE_WORKER_SWEEPS);
`manage.py durable sweeper` runs it alone. Sweeps may overlap safely: each statement takes
rows with FOR UPDATE SKIP LOCKED and marks them (updated_at), schedule ticks are claimed by
a conditional write, and a duplicate message is harmless since the lease decides.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any, Protocol

from django.db import connection

from durable import queues
from durable.core import store
from durable.core.conf import settings
from durable.core.store import _queues as store_queues
from durable.executors import _recovery as recovery
from durable.executors import duties
from durable.executors.duties import run_isolated

logger = logging.getLogger("durable")

BATCH = 500
WAKE_QUIET_SECONDS = 1.0  # a limited queue's waiting run is woken at most this often


class Dispatcher(Protocol):
    def dispatch(self, run_id: str) -> None: ...


_last_lost_check = float("-inf")
# the engine's duties, each at its own interval (schedules every sweep, partitions hourly)
_timed = duties.TimedDuties([])


def sweep_once(dispatcher: Dispatcher) -> dict[str, int]:
    """One pass; returns how many runs were recovered, declared dead, dispatched, woken,
    and started by cron schedules (each tick is claimed once, whoever sweeps). Each part
    runs isolated: one that fails is logged and the others still run."""
    counts = {"recovered": 0, "dead": 0, "dispatched": 0, "woken": 0, "scheduled": 0}
    recovered = run_isolated("recoveries", lambda: _recover(dispatcher))
    if recovered is not None:
        counts["recovered"], counts["dead"] = recovered
    _timed.duties = duties.engine_duties("celery")  # cron schedules, partitions, alerts
    started = _timed.run_due().get("schedules")
    counts["scheduled"] = len(started or [])
    lost = _lost_check_due(dispatcher)
    due = run_isolated("due runs", lambda: _dispatch_due(dispatcher, lost=lost))
    counts["dispatched"] = due or 0
    for queue in run_isolated("stored queues", queues.special) or []:
        if queue.limited:
            woken = run_isolated(f"queue {queue.name}", partial(_wake_queue, dispatcher, queue))
            counts["woken"] += woken or 0
    return counts


def _recover(dispatcher: Dispatcher) -> tuple[int, int]:
    requeued, dead = recovery.sweep()
    for run_id in requeued:
        dispatcher.dispatch(run_id)
    return len(requeued), len(dead)


def _lost_check_due(dispatcher: Dispatcher) -> bool:
    """Look for lost messages a few times per DURABLE_REDISPATCH_SECONDS, and only when the
    broker's queue is empty: while messages wait there, a waiting run may have one."""
    global _last_lost_check
    now = time.monotonic()
    if now - _last_lost_check < settings.DURABLE_REDISPATCH_SECONDS / 4:
        return False
    _last_lost_check = now
    broker_idle = getattr(dispatcher, "broker_idle", None)
    if broker_idle is None:
        return False
    try:
        return broker_idle()
    except Exception as exc:
        logger.warning("could not measure the broker's queue (%s); lost runs wait", exc)
        return False


def _dispatch_due(dispatcher: Dispatcher, *, lost: bool) -> int:
    marked = store.mark_due_undispatched(lost, settings.DURABLE_REDISPATCH_SECONDS, BATCH)
    run_ids = _dispatch_each(dispatcher, marked)
    if lost and run_ids:
        logger.info("dispatched %d waiting run(s) again: %s", len(run_ids), run_ids[:10])
    return len(run_ids)


def _wake_queue(dispatcher: Dispatcher, queue: queues.Limits) -> int:
    """Send one message per slot the queue could fill now; for a worker_concurrency queue,
    no more than the live executors have room for, not one per waiting run each second."""
    slots = min(queues.free_slots(queue), BATCH)
    if queue.worker_concurrency is not None and slots > 0:
        room = queues.worker_room(queue, settings.DURABLE_LEASE_SECONDS, kind="celery")
        slots = min(slots, room)  # its messages go to Celery workers only
    if slots <= 0:
        return 0
    marked = store_queues.mark_queue_heads(queue.name, WAKE_QUIET_SECONDS, queue.priority, slots)
    return len(_dispatch_each(dispatcher, marked))


def _dispatch_each(dispatcher: Dispatcher, run_ids: list[str]) -> list[str]:
    """One message per run the marking statement returned."""
    for run_id in run_ids:
        dispatcher.dispatch(run_id)
    return run_ids


def run_forever(dispatcher: Dispatcher, stop: Any, every: float | None = None) -> None:
    """The `durable sweeper` loop: sweep every DURABLE_SWEEP_SECONDS until `stop` is set."""
    every = every or settings.DURABLE_SWEEP_SECONDS
    while not stop.is_set():
        try:
            sweep_once(dispatcher)
        except Exception:
            logger.exception("sweep failed; retrying")
            connection.close()
        stop.wait(every)
