"""Is this deployment able to run workflows: the checks behind `/health`.

Load balancers and Kubernetes probes read the HTTP status (200 healthy or degraded, 503
not); people read the JSON body, which says which check failed and why. Degraded means the
deployment works but some due runs wait with no executor to take them (all drained, no
executor runs their version, their queue's limit full): a probe restarting this pod would
not help, an operator would (`durable.observability._untaken` says how).
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

from durable.core import _serving as serving
from durable.core.conf import settings
from durable.core.store import _monitoring as store_monitoring
from durable.observability import _untaken as untaken

_migrated = False  # once applied, migrations stay applied: check the graph only until then


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    degraded: bool = False  # ok, but due runs wait that no executor takes

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        if not self.degraded:
            del body["degraded"]
        return body


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
    with probe_connection() as conn:  # its own bounded connection, not the store's path
        conn.execute(store_monitoring.PING)
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
    """Live executors, of which draining ones take no new runs (they do not count as
    serving: a fleet that is all drained is degraded, not healthy)."""
    fleet = serving.live_executors()
    draining = [executor.id for executor in fleet if executor.draining]
    if not fleet:
        return Check(
            "executors",
            False,
            f"no executor heartbeat in the last {serving.alive_seconds():g}s from a live one "
            f"(one whose lifeline lock is gone is dead once silent {serving.silence_seconds():g}s)"
            ": start a worker "
            "(`celery -A config worker` or `manage.py durable worker`)",
        )
    if len(draining) == len(fleet):
        return Check("executors", True, f"{len(fleet)} live, all draining ({', '.join(draining)}): "
                     "none takes new runs; undrain one (health page, or `manage.py durable "
                     "undrain ID`) or start a worker", degraded=True)  # fmt: skip
    serving_count = len(fleet) - len(draining)
    return Check(
        "executors",
        True,
        f"{serving_count} live" + (f", {len(draining)} draining" if draining else ""),
    )


def check_untaken() -> Check:
    """Due runs that no executor takes: degraded, naming each group and why."""
    groups = untaken.untaken(sample=0)
    if not groups:
        return Check("untaken", True, "every due run has an executor that takes it")
    total = sum(group.count for group in groups)
    parts = [f"{g.count} of {g.workflow} (version {g.version or '–'}) in queue {g.queue}: "
             f"{g.reason}" for g in groups[:5]]  # fmt: skip
    more = f"; and {len(groups) - 5} more groups" if len(groups) > 5 else ""
    return Check(
        "untaken",
        True,
        f"{total} due run(s) no executor takes: " + "; ".join(parts) + more,
        degraded=True,
    )


CHECKS: dict[str, Callable[[], Check]] = {
    "database": check_database,
    "migrations": check_migrations,
    "executors": check_executors,
    "untaken": check_untaken,
}


def run_checks(skip: frozenset[str] = frozenset()) -> list[Check]:
    """Checks run in order and stop at the first failure (no executor check without the
    tables); those named in `skip` are left out (a web pod's liveness probe need not wait
    for workers; skipping "executors" skips "untaken", which is about them too). The
    database check is bounded by its own timeouts; the later ones run only once it passed.
    Never raises for a database problem."""
    if "executors" in skip:
        skip = skip | {"untaken"}
    return _run_checks([name for name in CHECKS if name == "database" or name not in skip])


def status(checks: list[Check]) -> str:
    """ "ok", "unhealthy" (a check failed), or "degraded": all ok, but due runs wait
    untaken — still healthy for probes."""
    if not all(check.ok for check in checks):
        return "unhealthy"
    return "degraded" if any(check.degraded for check in checks) else "ok"


def report(skip: frozenset[str] = frozenset()) -> tuple[bool, dict[str, Any]]:
    """(healthy, JSON body) of `run_checks`."""
    checks = run_checks(skip)
    body = {
        "status": status(checks),
        "checks": {check.name: check.as_json() for check in checks},
    }
    return all(check.ok for check in checks), body


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
