"""Which code versions can execute a run now: this process's code and live executors'.

A resumed run whose version nobody serves would wait ENQUEUED forever; operations ask here
first and offer a fork onto the current code instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from durable.core import _registry as registry
from durable.core import store
from durable.core.conf import settings
from durable.core.store import _db as db


@dataclass(frozen=True)
class LiveExecutor:
    id: str
    workflows: frozenset[str]  # names (any version) and "name@version" entries
    draining: bool  # drained by an operator: it takes no new runs, so it does not serve

    def runs(self, workflow: str, version: str) -> bool:
        """Whether its code runs this workflow version (as claims match it)."""
        return workflow in self.workflows or f"{workflow}@{version}" in self.workflows


SILENT_HEARTBEATS = 3


def silence_seconds() -> float:
    """How long an owner without its lifeline lock must have been silent to be dead."""
    return SILENT_HEARTBEATS * settings.DURABLE_HEARTBEAT_SECONDS


def alive_seconds() -> float:
    """How recent a heartbeat makes an executor live at most: two lease periods (it beats
    every third of one); one whose lifeline lock is gone is dead after `silence_seconds`."""
    return 2 * settings.DURABLE_LEASE_SECONDS


def restart_grace_seconds() -> float:
    """How long after the server (or this process's connection) came back no owner is
    judged dead: a restart drops every lifeline lock at once, and live owners take theirs
    again within it."""
    return settings.DURABLE_LEASE_SECONDS / 2


def death_rule() -> tuple[float, float] | None:
    """(silence, grace) for the recovery verdict's rule (store.DEAD_OWNER), or None while
    this process has just seen the database come back from an outage: owners cut off by the
    same outage take their lifeline locks again before any is judged dead."""
    grace = restart_grace_seconds()
    if db.seconds_since_outage() < grace:
        return None
    return silence_seconds(), grace


def liveness() -> tuple[float, float, float]:
    """(alive, silence, grace) for the store's LIVE_EXECUTOR rule: the recovery verdict's."""
    return alive_seconds(), silence_seconds(), restart_grace_seconds()


def live_executors() -> list[LiveExecutor]:
    """Live executors, draining ones included (they are live, but serve nothing new); a
    killed one stops counting within seconds, as the recovery verdict judges it dead."""
    rows = store.live_executors(*liveness())
    return [LiveExecutor(id_, frozenset(names or []), draining) for id_, names, draining in rows]


def announce_threads(executor_id: str, threads: int) -> None:
    """Record an executor's capacity once it has a row (after its first heartbeat)."""
    store.announce_threads(executor_id, threads)


def served_keys() -> set[str]:
    """ "name@version" (and bare names) that this process's code or a live executor runs."""
    registry.autodiscover()
    keys = set(registry.runnable_keys())
    for workflows in store.live_executor_workflows(*liveness()):
        keys.update(workflows or [])
    return keys


def unserved_reason(workflow: str, version: str, keys: set[str]) -> str | None:
    """Why a run of `workflow` at `version` would never be picked up, or None if it would
    (or if nothing here knows the workflow at all, so nobody can tell)."""
    if f"{workflow}@{version}" in keys or workflow in keys:
        return None
    others = sorted(
        key.partition("@")[2] for key in keys if key.startswith(f"{workflow}@") and "@" in key
    )
    others = [other for other in others if other]
    if not others:
        return None
    return (
        f"no live executor runs version {version!r} of {workflow} (the current code is "
        f"version {', '.join(map(repr, others))}), so it would wait ENQUEUED forever"
    )
