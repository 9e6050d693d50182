"""Which code versions can execute a run now: this process's code and live executors'.

A resumed run whose version nobody serves would wait ENQUEUED forever; operations ask here
first and offer a fork onto the current code instead.
"""

from __future__ import annotations

from durable.core import _registry as registry
from durable.core.conf import settings
from durable.core.store import execute

LIVE_EXECUTOR_WORKFLOWS = """
-- live_executor_workflows --
-- What each executor that heartbeat lately and takes runs (not drained) can run
SELECT workflows FROM durable_executor
WHERE last_seen_at > now() - make_interval(secs => %(alive)s) AND NOT draining
"""


def served_keys() -> set[str]:
    """ "name@version" (and bare names) that this process's code or a live executor runs."""
    registry.autodiscover()
    alive = 2 * settings.DURABLE_LEASE_SECONDS  # a live executor heartbeats every third
    keys = set(registry.runnable_keys())
    for (workflows,) in execute(LIVE_EXECUTOR_WORKFLOWS, {"alive": alive}):
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
