"""Recovering runs whose owner died, within seconds of the death.

The verdict (`store.RECOVER_ORPHANED`) asks PostgreSQL, not the clock alone: an owner is
dead when the server holds no lifeline lock of it (its process's session is gone) and it has
been silent for SILENT_HEARTBEATS heartbeats (`durable.core._serving`, whose rule /health
shares). A live owner keeps its lock however long a GIL-holding step runs and whichever pid
namespace it lives in; an owner whose lifeline connection dropped for a moment takes its
lock again and heartbeats before the silence ends.
"""

from __future__ import annotations

import logging

from durable.core import store
from durable.core._serving import death_rule
from durable.core.conf import settings

logger = logging.getLogger("durable")


def forget_dead_executors(executor_id: str) -> list[str]:
    """At start-up: forget executors silent for a lease, without a lifeline lock and without
    running runs (the sweep recovers those, recording who died, before the row goes)."""
    dead = store.dead_executors(executor_id, settings.DURABLE_LEASE_SECONDS)
    if dead:
        store.forget_executors(dead)
        logger.info("forgot %d dead executor(s)", len(dead))
    return dead


def sweep() -> tuple[list[str], list[str]]:
    """Re-enqueue runs whose owner died; those past DURABLE_MAX_RECOVERIES go DEAD.

    Right after this process saw the database come back from an outage, or the server
    itself came up again (a restart drops every lifeline lock at once, and this statement
    may be the one that waited the restart out), wait half a lease: owners cut off by the
    same outage take their lifeline locks again before they are judged.
    """
    rule = death_rule()
    if rule is None:
        return [], []
    recovered = store.recover_orphaned(settings.DURABLE_MAX_RECOVERIES, *rule)
    requeued = [run_id for run_id, status in recovered if status == "ENQUEUED"]
    dead = [run_id for run_id, status in recovered if status == "DEAD"]
    if requeued:
        logger.info("recovered %d run(s) whose executor died: %s", len(requeued), requeued[:10])
    if dead:
        logger.warning("%d run(s) exceeded their recoveries and are DEAD: %s", len(dead), dead[:10])
    return requeued, dead
