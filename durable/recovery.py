"""Recovering runs whose owner died, at start-up and when leases expire."""

from __future__ import annotations

import logging

from durable import store
from durable.conf import settings
from durable.executors.identity import hostname, process_alive

logger = logging.getLogger("durable")


def release_dead_local_executors(executor_id: str) -> list[str]:
    """At start-up: end the leases of executors on this host whose process is gone.

    Their runs are then recovered at once instead of after a full lease period.
    """
    dead = [
        other_id
        for other_id, pid in store.executors_on_host(hostname(), executor_id)
        if not process_alive(pid)
    ]
    if dead:
        store.expire_leases_of(dead)
        store.forget_executors(dead)
        logger.info("released the runs of %d dead executor(s) on this host", len(dead))
    return dead


def sweep() -> tuple[list[str], list[str]]:
    """Re-enqueue runs with expired leases; those past DURABLE_MAX_RECOVERIES go DEAD."""
    recovered = store.recover_expired(settings.DURABLE_MAX_RECOVERIES)
    requeued = [run_id for run_id, status in recovered if status == "ENQUEUED"]
    dead = [run_id for run_id, status in recovered if status == "DEAD"]
    if requeued:
        logger.info("recovered %d run(s) whose executor died: %s", len(requeued), requeued[:10])
    if dead:
        logger.warning("%d run(s) exceeded their recoveries and are DEAD: %s", len(dead), dead[:10])
    return requeued, dead
