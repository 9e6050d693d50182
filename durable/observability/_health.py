"""Is this deployment able to run workflows: the checks behind `/health`.

Load balancers and Kubernetes probes read the HTTP status (200 healthy, 503 not); people
read the JSON body, which says which check failed and why.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
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


@contextlib.contextmanager
def probe_connection() -> Iterator[psycopg.Connection]:
    """A connection of its own with short connect and statement timeouts
    (DURABLE_HEALTH_TIMEOUT_SECONDS): a probe must answer within seconds while the database
    is down, not wait out the engine's retry budget (DURABLE_DB_RETRY_SECONDS)."""
    timeout = float(settings.DURABLE_HEALTH_TIMEOUT_SECONDS)
    params = {
        key: value
        for key, value in connection.get_connection_params().items()
        if key not in {"cursor_factory", "context", "prepare_threshold"}
    }
    options = f"{params.pop('options', '')} -c statement_timeout={int(timeout * 1000)}"
    with psycopg.connect(
        **params,
        connect_timeout=max(2, math.ceil(timeout)),  # libpq's floor is 2 s
        options=options.strip(),
        autocommit=True,
    ) as conn:
        yield conn


def check_database() -> Check:
    with probe_connection() as conn:
        conn.execute("SELECT 1")
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
    with connection.cursor() as cursor:  # no retry loop: the probe just reached the database
        cursor.execute(LIVE_EXECUTORS, {"alive": alive})
        (count,) = cursor.fetchone()
    if count == 0:
        return Check(
            "executors",
            False,
            f"no executor heartbeat in the last {alive:g}s: start a worker "
            "(`celery -A config worker` or `manage.py durable worker`)",
        )
    return Check("executors", True, f"{count} live")


CHECKS: dict[str, Callable[[], Check]] = {
    "database": check_database,
    "migrations": check_migrations,
    "executors": check_executors,
}


def run_checks(skip: frozenset[str] = frozenset()) -> list[Check]:
    """Checks run in order and stop at the first failure (no executor check without the
    tables); those named in `skip` are left out (a web pod's liveness probe need not wait
    for workers). The database check is bounded by its own timeouts; the later ones run
    only once it passed. Never raises for a database problem."""
    return _run_checks([name for name in CHECKS if name == "database" or name not in skip])


def report(skip: frozenset[str] = frozenset()) -> tuple[bool, dict[str, Any]]:
    """(healthy, JSON body) of `run_checks`."""
    checks = run_checks(skip)
    healthy = all(check.ok for check in checks)
    body = {
        "status": "ok" if healthy else "unhealthy",
        "checks": {check.name: asdict(check) for check in checks},
    }
    return healthy, body


def _run_checks(names: list[str]) -> list[Check]:
    checks: list[Check] = []
    for name in names:
        try:
            checks.append(CHECKS[name]())
        except (psycopg.Error, DatabaseError) as exc:
            what = "PostgreSQL is not reachable" if name == "database" else "the check failed"
            checks.append(Check(name, False, f"{what}: {_first_line(exc)}"))
        if not checks[-1].ok:
            break
    return checks


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
