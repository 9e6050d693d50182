"""The incident view of one failure group (workflow, step, error type, fingerprint): when it
began, on which code version and whether right after a deploy, how far it reached, what is
still failing, and what its runs' inputs have in common.

The group's failures are read as the Failures page reads them (final attempts in the
window, one range of attempt_final_idx, each joined to its run by primary key), so both
pages count the same runs. Everything after that works on a bounded list of run ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, Min, OuterRef

from dashboard.queries.sql import aggregate
from durable import operations
from durable.models import Attempt, Executor, Run, RunStatus

MAX_RUNS = 5000  # run ids the lifecycle counts read; the radius counts every run
INPUT_SAMPLE = 200  # runs whose inputs are compared (the newest failures)
DEPLOY_WINDOW = timedelta(minutes=10)  # a version first seen this long before: a deploy


@dataclass(frozen=True)
class GroupKey:
    """A failure group as the Failures page groups failures."""

    workflow: str
    step: str
    error_type: str
    fingerprint: str


GROUP = """
-- incident_group --
-- One failure group in the window: each affected run once (newest failures first, bounded)
-- with the version it ran and where its first failure fell; the same scan as hotspots
WITH failed AS MATERIALIZED (
    SELECT a.run_id, a.finished_at, r.version, r.queue, r.tags
    FROM durable_attempt a
    CROSS JOIN LATERAL (
        SELECT workflow, version, queue, tags FROM durable_run WHERE id = a.run_id OFFSET 0
    ) AS r
    WHERE a.final AND a.finished_at >= %(since)s AND a.finished_at < %(until)s
      AND a.name = %(step)s AND a.error_type = %(error_type)s
      AND a.error_fingerprint = %(fingerprint)s AND r.workflow = %(workflow)s
), per_run AS (
    SELECT run_id, version, queue, min(finished_at) AS first_at, max(finished_at) AS last_at
    FROM failed GROUP BY run_id, version, queue
)
SELECT (SELECT count(*) FROM per_run) AS runs,
       (SELECT count(DISTINCT queue) FROM per_run) AS queues,
       (SELECT count(DISTINCT (t.key, t.value)) FROM (SELECT DISTINCT run_id, tags FROM failed) f
            CROSS JOIN LATERAL jsonb_each(f.tags) AS t) AS tags,
       (SELECT min(first_at) FROM per_run) AS first_seen,
       (SELECT max(last_at) FROM per_run) AS last_seen,
       (SELECT version FROM per_run ORDER BY first_at, run_id LIMIT 1) AS first_version,
       (SELECT array_agg(run_id ORDER BY last_at DESC)
        FROM (SELECT run_id, last_at FROM per_run ORDER BY last_at DESC LIMIT %(max_runs)s) n
       ) AS run_ids
"""

SAME_ERROR_WORKFLOWS = """
-- incident_same_error_workflows --
-- How many workflows the same error (type and fingerprint, any step) hit in the window
SELECT count(DISTINCT r.workflow) AS workflows
FROM durable_attempt a
CROSS JOIN LATERAL (SELECT workflow FROM durable_run WHERE id = a.run_id OFFSET 0) AS r
WHERE a.final AND a.finished_at >= %(since)s AND a.finished_at < %(until)s
  AND a.error_type = %(error_type)s AND a.error_fingerprint = %(fingerprint)s
"""


def incident(key: GroupKey, since: datetime, until: datetime) -> dict[str, Any] | None:
    """The group's incident summary, or None when it has no failure in the window."""
    params = {**key.__dict__, "since": since, "until": until, "max_runs": MAX_RUNS}
    row = aggregate(GROUP, params)[0]
    if not row["runs"]:
        return None
    run_ids: list[str] = row["run_ids"]
    workflows = aggregate(SAME_ERROR_WORKFLOWS, params)[0]["workflows"]
    return {
        "key": key,
        "first_seen": row["first_seen"],
        "last_seen": row["last_seen"],
        "first_version": row["first_version"],
        "last_good_version": _last_good_version(key, row["first_seen"]),
        "deploy": _deploy_before(key.workflow, row["first_version"], row["first_seen"]),
        "radius": {
            "runs": row["runs"],
            "workflows": workflows,
            "queues": row["queues"],
            "tags": row["tags"],
        },
        **lifecycle(run_ids),
        "counted_runs": len(run_ids),
        "inputs": common_inputs(run_ids[:INPUT_SAMPLE]),
    }


def _last_good_version(key: GroupKey, before: datetime) -> str | None:
    """The version of the workflow's last success created before the group began (a walk of
    run_workflow_status_created_idx), not one of the group's own runs that failed for good
    with its error and succeeded once resumed (each probe read in the run's partition)."""
    of_the_group = Attempt.objects.filter(
        run_id=OuterRef("id"), run_created_at=OuterRef("created_at"), final=True,
        error_fingerprint=key.fingerprint,
    )  # fmt: skip
    runs = Run.objects.filter(
        workflow=key.workflow, status=RunStatus.SUCCESS, created_at__lt=before
    )
    runs = runs.exclude(Exists(of_the_group))
    return runs.order_by("-created_at", "-id").values_list("version", flat=True).first()


def _deploy_before(workflow: str, version: str, first_failure: datetime) -> dict | None:
    """The version's deploy when it was first seen shortly before the group's first failure:
    the first run started at that version, or the live executors announcing it (the
    workflow@version keys their code can run), whichever came first. Executors forget
    (a clean shutdown deletes their row, a restart starts the clock again); the runs keep
    the version that started them (one probe of run_version_created_idx)."""
    seen = Executor.objects.filter(workflows__contains=[f"{workflow}@{version}"])
    first_run = (  # unversioned runs ("") tell nothing of a deploy
        Run.objects.filter(version=version, workflow=workflow)
        .order_by("created_at", "id")
        .values_list("created_at", flat=True)
        .first()
        if version
        else None
    )
    times = [seen.aggregate(first=Min("started_at"))["first"], first_run]
    first_seen = min((time for time in times if time is not None), default=None)
    if first_seen is None or not (timedelta(0) <= first_failure - first_seen <= DEPLOY_WINDOW):
        return None
    return {"version": version, "first_seen": first_seen, "executors": seen.count()}


def lifecycle(run_ids: list[str]) -> dict[str, int]:
    """Still failing, resolved (succeeded since) and superseded (restarted or forked, the
    engine's own rule) among the runs; each run is counted once."""
    runs = Run.objects.filter(id__in=run_ids)
    superseded = set(operations.superseded_runs(runs).values_list("id", flat=True))
    statuses = runs.values_list("id", "status")
    alive = [status for run_id, status in statuses if run_id not in superseded]
    failed = (RunStatus.ERROR, RunStatus.DEAD)
    return {
        "still_failing": sum(status in failed for status in alive),
        "resolved": sum(status == RunStatus.SUCCESS for status in alive),
        "superseded": len(superseded),
    }


def common_inputs(run_ids: list[str]) -> dict[str, Any]:
    """Top-level inputs (positional arguments and keyword names) whose values are the same
    in every sampled run, and those that differ with how many distinct values they take."""
    inputs = [
        _top_level(value)
        for value in Run.objects.filter(id__in=run_ids).values_list("input", flat=True)
    ]
    keys = sorted({key for values in inputs for key in values})
    common, different = [], []
    for key in keys:
        seen = {_text(values.get(key, _MISSING)) for values in inputs}
        if len(seen) == 1 and all(key in values for values in inputs):
            common.append((key, seen.pop()))
        else:
            different.append((key, len(seen)))
    return {"sampled": len(inputs), "common": common, "different": different}


_MISSING = object()


def _top_level(value: Any) -> dict[str, Any]:
    """A run input's top-level values: `args[i]` and each keyword (or a plain dict's keys)."""
    if not isinstance(value, dict):
        return {"input": value}
    if set(value) <= {"args", "kwargs"}:
        args = value.get("args") or []
        kwargs = value.get("kwargs") or {}
        positional = (
            {f"args[{n}]": a for n, a in enumerate(args)}
            if isinstance(args, list)
            else {"args": args}
        )
        named = kwargs if isinstance(kwargs, dict) else {"kwargs": kwargs}
        return {**positional, **named}
    return value


def _text(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)[:200]
