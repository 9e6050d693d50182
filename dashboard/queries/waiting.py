"""Why an ENQUEUED or RUNNING run is not moving, told from what the tables already hold.

Executors announce the workflows they serve (durable_executor.workflows), queues declare
their limits (durable.queues), a run is due at `available_at`, and its last history entry
or failed attempt says whether it sleeps, retries or waits for a child. A page of runs
costs one statement (plus a count per declared queue with limits), whatever its size.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone

from dashboard.queries import partition_bounds
from dashboard.queries.sql import read_cursor
from durable import queues
from durable.models import RunStatus

ALIVE_WITHIN = timedelta(seconds=30)


def _get(run: Any, name: str) -> Any:
    return run[name] if isinstance(run, dict) else getattr(run, name)


def _when(moment: datetime) -> str:
    return f"{moment:%H:%M:%S} UTC ({naturaltime(moment)})"


def reasons(runs: Sequence[Any]) -> dict[str, str]:
    """A sentence per live run (Run objects or list rows, with their `created_at`: the
    history is read in their partitions) saying what it waits for."""
    live = [run for run in runs if _get(run, "status") in RunStatus.active()]
    if not live:
        return {}
    facts = _Facts(
        [_get(run, "id") for run in live],
        [_get(run, "created_at") for run in live],
        {_get(run, "queue") for run in live},
    )
    return {_get(run, "id"): facts.reason(run) for run in live}


FACTS = """
-- waiting_facts --
-- Per live run: its last history entry, its last failed attempt and an active child (one
-- probe each of the (run, position), attempt_run_idx and run_parent_idx indexes, the first
-- two in the run's partition of the history: its creation time is the partition key), the
-- workflows live executors serve (drained ones take no new runs) and how many are drained.
-- The runs' creation times, bounded by constants (partition_bounds), prune the history to
-- their days' partitions as it is planned, the run's own time to its one as it runs
SELECT r.id, s.position, s.kind, s.finished_at, a.position, a.attempt, a.finished_at,
       a.error_type, a.name,
       -- a number as stored (an imported file's 1e400 clamped, a non-number read as none)
       CASE WHEN json_typeof(a.error->'retry_delay_seconds') = 'number' THEN least(greatest(
           (a.error->>'retry_delay_seconds')::numeric, 0), 1e8)::float END, c.id,
       (SELECT coalesce(array_agg(DISTINCT w), '{}') FROM durable_executor e,
               unnest(e.workflows) AS w
        WHERE e.last_seen_at >= now() - make_interval(secs => %(alive_s)s) AND NOT e.draining),
       (SELECT count(*) FROM durable_executor e
        WHERE e.last_seen_at >= now() - make_interval(secs => %(alive_s)s) AND e.draining)
FROM unnest(%(run_ids)s::text[], %(created)s::timestamptz[]) AS r(id, created_at)
LEFT JOIN LATERAL (
    SELECT position, kind, finished_at FROM durable_step
    WHERE run_id = r.id AND run_created_at = r.created_at AND {within}
    ORDER BY position DESC LIMIT 1) AS s ON true
LEFT JOIN LATERAL (
    SELECT position, attempt, finished_at, error_type, name, error FROM durable_attempt
    WHERE run_id = r.id AND run_created_at = r.created_at AND {within}
    ORDER BY position DESC, attempt DESC LIMIT 1) AS a ON true
LEFT JOIN LATERAL (
    SELECT id FROM durable_run
    WHERE parent_id = r.id AND status IN ('ENQUEUED', 'RUNNING') LIMIT 1) AS c ON true
"""


@dataclass(frozen=True)
class _Entry:
    position: int
    kind: str
    finished_at: datetime


@dataclass(frozen=True)
class _Attempt:
    position: int
    attempt: int
    finished_at: datetime
    error_type: str
    name: str
    retry_delay: float | None  # the (jittered) wait chosen, as recorded with the attempt

    def retry_at(self) -> datetime | None:
        """When the next attempt starts: the recorded wait, else from the step's retry
        policy (None if the step cannot be found by its name in this process)."""
        if self.retry_delay is not None:
            return self.finished_at + timedelta(seconds=self.retry_delay)
        step = _step_definition(self.name)
        if step is None:
            return None
        return self.finished_at + timedelta(seconds=step.retry.wait_before(self.attempt))


def _step_definition(name: str) -> Any:
    """The StepDefinition a `@durable.step` named `module.qualname` carries, looked up in
    the modules this process has imported (the workflows' modules, by autodiscovery);
    nothing is imported because a history names it."""
    module_name, _, qualname = name.rpartition(".")
    while module_name:
        module = sys.modules.get(module_name)
        if module is not None:
            target: Any = module
            for part in qualname.split("."):
                target = getattr(target, part, None)
            return getattr(target, "__durable_step__", None)
        module_name, _, head = module_name.rpartition(".")
        qualname = f"{head}.{qualname}"
    return None


class _Facts:
    """Everything the reasons are read from, fetched in one statement for a page of runs."""

    def __init__(self, run_ids: list[str], created: list[datetime], queue_names: set[str]) -> None:
        self.now = timezone.now()
        self.served: set[str] = set()
        self.drained = 0
        self.last_entry: dict[str, _Entry] = {}
        self.last_attempt: dict[str, _Attempt] = {}
        self.children: dict[str, str] = {}
        within, bounds = partition_bounds.within_named(created)
        params = {"run_ids": run_ids, "created": created, **bounds,
                  "alive_s": ALIVE_WITHIN.total_seconds()}  # fmt: skip
        with read_cursor() as cursor:
            cursor.execute(FACTS.replace("{within}", within), params)
            for row in cursor.fetchall():
                self._read(*row)
        self.queues = _queue_limits(queue_names)

    def _read(self, run_id: str, *row: Any) -> None:
        """One FACTS row: last entry (3 columns), last attempt (6), active child, served,
        drained executors."""
        entry, attempt, child, served, self.drained = row[:3], row[3:9], row[9], row[10], row[11]
        if entry[0] is not None:
            self.last_entry[run_id] = _Entry(*entry)
        if attempt[0] is not None:
            self.last_attempt[run_id] = _Attempt(*attempt)
        if child is not None:
            self.children[run_id] = child
        self.served = set(served)

    def reason(self, run: Any) -> str:
        held_at = run.get("held_at") if isinstance(run, dict) else getattr(run, "held_at", None)
        if held_at is not None:  # no claim takes it, whatever its queue or executors
            return f"held by an operator since {_when(held_at)}: release it to go on"
        if _get(run, "status") == RunStatus.RUNNING:
            return self._running(run)
        return self._enqueued(run)

    def _enqueued(self, run: Any) -> str:
        run_id, available_at = _get(run, "id"), _get(run, "available_at")
        entry = self.last_entry.get(run_id)
        if available_at and available_at > self.now:
            if entry is not None and entry.kind == "sleep":
                return f"sleeping until {_when(available_at)}"
            if _get(run, "started_at") is None:
                return f"a delayed start: due at {_when(available_at)}"
            return f"not due until {_when(available_at)}"
        workflow, version = _get(run, "workflow"), _get(run, "version")
        if not self.served and self.drained:
            return (
                f"every live executor ({self.drained}) is draining: none takes new runs; "
                "undrain one on the Health page, or start a worker"
            )
        if not self.served:
            return "no live executor: none has checked in for 30 s; start a worker"
        if workflow not in self.served and f"{workflow}@{version}" not in self.served:
            return (
                f"no live executor serves {workflow} (version {version or '–'}); deploy "
                "a worker with this code"
            )
        limit = self.queues.get(_get(run, "queue"))
        if limit:
            return limit
        recovered = " after its executor died" if _get(run, "recovery_count") else ""
        return f"due since {_when(available_at)}{recovered}; waiting for an executor to claim it"

    def _running(self, run: Any) -> str:
        run_id = _get(run, "id")
        lease = _get(run, "lease_expires_at")
        if lease is not None and lease < self.now:
            return (
                f"its executor stopped renewing the lease at {_when(lease)}; "
                "the recovery sweep re-enqueues it"
            )
        if run_id in self.children:
            return f"waiting for child run {self.children[run_id]}"
        entry = self.last_entry.get(run_id)
        if entry is not None and entry.kind == "sleep" and entry.finished_at > self.now:
            return f"sleeping until {_when(entry.finished_at)}"
        position = entry.position + 1 if entry is not None else 0
        attempt = self.last_attempt.get(run_id)
        if attempt is not None and attempt.position == position:
            retry_at = attempt.retry_at()
            then = f"next retry at {_when(retry_at)}" if retry_at else "retrying per its policy"
            return (
                f"step {position} failed attempt {attempt.attempt} "
                f"({attempt.error_type.rsplit('.', 1)[-1]}) at {_when(attempt.finished_at)}; "
                + then
            )
        since = entry.finished_at if entry is not None else _get(run, "updated_at")
        return f"executing step {position} since {_when(max(since, _get(run, 'updated_at')))}"


def _queue_limits(names: set[str]) -> dict[str, str]:
    """For each queue whose stored limit admits no start now (as the claim counts), the
    sentence that says so (`durable.queues.hold`)."""
    holds = {name: queues.hold(name) for name in names}
    return {name: hold.reason for name, hold in holds.items() if hold is not None}
