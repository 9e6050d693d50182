"""Is this deployment able to run workflows: the checks behind `/health`.

Load balancers and Kubernetes probes read the HTTP status (200 healthy, 503 not); people
read the JSON body, which says which check failed and why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from durable.core.conf import settings
from durable.core.store import execute

LIVE_EXECUTORS = """
-- live_executors --
-- Executors that heartbeat within two lease periods (they heartbeat every third of one)
SELECT count(*) FROM durable_executor
WHERE last_seen_at > now() - make_interval(secs => %(alive)s)
"""

_migrated = False  # once applied, migrations stay applied: check the graph only until then


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        execute("SELECT 1", {})
    except DatabaseError as exc:
        return Check("database", False, f"PostgreSQL is not reachable: {exc}".strip())
    return Check("database", True, "reachable")


def check_migrations() -> Check:
    global _migrated
    if not _migrated:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
            return Check("migrations", False, f"{len(plan)} unapplied ({names}); run migrate")
        _migrated = True
    return Check("migrations", True, "applied")


def check_executors() -> Check:
    alive = 2 * settings.DURABLE_LEASE_SECONDS
    (count,) = execute(LIVE_EXECUTORS, {"alive": alive})[0]
    if count == 0:
        return Check(
            "executors",
            False,
            f"no executor heartbeat in the last {alive:g}s: start a worker "
            "(`celery -A config worker` or `manage.py durable worker`)",
        )
    return Check("executors", True, f"{count} live")


LATER_CHECKS = {"migrations": check_migrations, "executors": check_executors}


def run_checks(skip: frozenset[str] = frozenset()) -> list[Check]:
    """Later checks are skipped when the database is unreachable, and those named in `skip`
    always (a web pod's liveness probe need not wait for workers)."""
    database = check_database()
    checks = [database]
    if database.ok:
        checks += [check() for name, check in LATER_CHECKS.items() if name not in skip]
    return checks


def report(skip: frozenset[str] = frozenset()) -> tuple[bool, dict[str, Any]]:
    """(healthy, JSON body) of `run_checks`."""
    checks = run_checks(skip)
    healthy = all(check.ok for check in checks)
    body = {
        "status": "ok" if healthy else "unhealthy",
        "checks": {check.name: asdict(check) for check in checks},
    }
    return healthy, body


STRANDED_RUN_IDS = """
-- stranded_run_ids --
-- A few due ENQUEUED runs of one workflow version, oldest first (run_due_idx)
SELECT id FROM durable_run
WHERE status = 'ENQUEUED' AND available_at <= now() AND workflow = %(workflow)s
    AND version = %(version)s
ORDER BY available_at LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Stranded:
    """Due runs of a workflow version that no live executor (nor this process) can run."""

    workflow: str
    version: str
    count: int
    reason: str
    run_ids: list[str]
    forkable: bool  # some live code runs another version: a fork onto it would run


def stranded(limit: int = 10) -> list[Stranded]:
    """Groups of runs that would wait ENQUEUED forever, each with why and a few run ids."""
    from durable.core.store import unclaimable_workflows
    from durable.executors import _serving as serving

    keys = serving.served_keys()
    groups = []
    for workflow, version, count in unclaimable_workflows(sorted(keys)):
        other_version = serving.unserved_reason(workflow, version, keys)
        reason = other_version or (
            f"no live executor runs {workflow}: start a worker with the code that defines it"
        )
        params = {"workflow": workflow, "version": version, "limit": limit}
        run_ids = [row[0] for row in execute(STRANDED_RUN_IDS, params)]
        groups.append(Stranded(workflow, version, count, reason, run_ids, bool(other_version)))
    return groups
