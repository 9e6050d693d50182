"""Recovering runs whose owner died, at start-up and when leases expire."""

from __future__ import annotations

import logging

from durable.core import store
from durable.core.conf import settings
from durable.core.store import _db as db

logger = logging.getLogger("durable")


def release_dead_executors(executor_id: str) -> list[str]:
    """At start-up: end the leases of executors whose heartbeat is older than a lease.

    Their runs are then recovered at once. Liveness is judged by heartbeat age, never by
    pid: executors in containers share a hostname but not a pid namespace, so a pid that is
    missing here may be a live executor next door.
    """
    dead = store.stale_executors(executor_id, settings.DURABLE_LEASE_SECONDS)
    if dead:
        store.expire_leases_of(dead)
        store.forget_executors(dead)
        logger.info("released the runs of %d dead executor(s)", len(dead))
    return dead


def sweep() -> tuple[list[str], list[str]]:
    """Re-enqueue runs with expired leases; those past DURABLE_MAX_RECOVERIES go DEAD.

    Right after this process saw the database come back from an outage, wait half a lease
    first: live owners cut off by the same outage renew their leases before they are judged.
    """
    if db.seconds_since_outage() < settings.DURABLE_LEASE_SECONDS / 2:
        return [], []
    recovered = store.recover_expired(settings.DURABLE_MAX_RECOVERIES)
    requeued = [run_id for run_id, status in recovered if status == "ENQUEUED"]
    dead = [run_id for run_id, status in recovered if status == "DEAD"]
    if requeued:
        logger.info("recovered %d run(s) whose executor died: %s", len(requeued), requeued[:10])
    if dead:
        logger.warning("%d run(s) exceeded their recoveries and are DEAD: %s", len(dead), dead[:10])
    return requeued, dead
