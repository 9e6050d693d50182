"""Cancel and resume: the batch handlers that change runs in place, trees included."""

from __future__ import annotations

from django.db import connection

from durable.executors import _serving as serving
from durable.models import Run, RunStatus
from durable.operations import _lineage as lineage
from durable.operations._batches import BulkResult, locked_statuses, split_by_status
from durable.operations._deriving import fork_points


def cancel_batch(
    batch: list[str], reason: str, children: bool = True, cancelled: list[str] | None = None
) -> BulkResult:
    """Cancel the batch's active runs (locked by the caller), with their trees unless
    `children` is False; every run cancelled (trees included) is added to `cancelled`."""
    statuses = locked_statuses(batch)
    eligible, result = split_by_status(
        batch,
        statuses,
        RunStatus.active(),
        lambda status: f"it is {status}; only enqueued or running runs can be cancelled",
    )
    if eligible:  # children go with their parents, unless asked not to
        stopped = lineage.cancel_trees(
            eligible, reason or "cancelled by an operator", children=children
        )
        if cancelled is not None:
            cancelled.extend(stopped)
    result.done.update({run_id: run_id for run_id in eligible})
    return result


def _resume_refusal(status: str) -> str:
    if status == RunStatus.SUCCESS:
        return "it already succeeded; restart it to run it again"
    return f"it is {status}; only failed, cancelled or dead runs can be resumed"


RESUME_RUNS = """
-- resume_runs --
-- Drop each run's trailing failed checkpoint (its error stays in durable_attempt) so that
-- step runs again, then put the runs back in line
WITH last_step AS (
    SELECT run_id, max(position) AS position FROM durable_step
    WHERE run_id = ANY(%(run_ids)s) GROUP BY run_id
), dropped AS (
    DELETE FROM durable_step s USING last_step t
    WHERE s.run_id = t.run_id AND s.position = t.position AND s.status = 'ERROR'
    RETURNING s.run_id, s.position
)
UPDATE durable_run r
SET status = 'ENQUEUED', executor_id = NULL, lease_expires_at = NULL, output = NULL,
    error = NULL, error_type = '', error_fingerprint = '', cancel_reason = '',
    cancelled_with_parent = false, finished_at = NULL, recovery_count = 0,
    available_at = now(), updated_at = now(),
    -- a resume grants the step it runs again a fresh retry budget; attempt numbers go on
    -- (past the failed attempts and those lost to deaths, whose count starts again)
    attempts_before_resume = GREATEST((
        SELECT max(a.attempt) FROM durable_attempt a
        WHERE a.run_id = r.id AND a.position >= COALESCE(
            (SELECT d.position FROM dropped d WHERE d.run_id = r.id),
            (SELECT t.position + 1 FROM last_step t WHERE t.run_id = r.id), 0)), (
        SELECT max((lost.value ->> 0)::int) FROM jsonb_each(r.lost_attempts) lost
        WHERE lost.key::int >= COALESCE(
            (SELECT d.position FROM dropped d WHERE d.run_id = r.id),
            (SELECT t.position + 1 FROM last_step t WHERE t.run_id = r.id), 0)), 0),
    lost_attempts = COALESCE((
        SELECT jsonb_object_agg(lost.key, jsonb_build_array(lost.value -> 0, 0))
        FROM jsonb_each(r.lost_attempts) lost), '{}'::jsonb),
    steps_done = r.steps_done - (SELECT count(*) FROM dropped d WHERE d.run_id = r.id),
    -- a run-level timeout starts again: the resumed run gets as long as the first one had
    -- from its start (not its delay too); rows written before timeout_seconds fall back to
    -- their deadline's distance from creation (a delayed start that never started: from
    -- its due time)
    deadline_at = COALESCE(now() + make_interval(secs => r.timeout_seconds),
        now() + (r.deadline_at - CASE WHEN r.started_at IS NULL
            THEN GREATEST(r.created_at, r.available_at) ELSE r.created_at END)),
    -- keep the de-duplication id unless another active run holds it by now
    dedup_id = CASE WHEN EXISTS (
        SELECT 1 FROM durable_run other
        WHERE other.queue = r.queue AND other.dedup_id = r.dedup_id AND other.id <> r.id
          AND other.status IN ('ENQUEUED', 'RUNNING')) THEN NULL ELSE r.dedup_id END
WHERE r.id = ANY(%(run_ids)s)
"""


def resume_batch(batch: list[str]) -> BulkResult:
    """Resumed runs take along the children their cancel took down, so they can go on."""
    statuses = locked_statuses(batch)
    eligible, result = split_by_status(batch, statuses, RunStatus.resumable(), _resume_refusal)
    eligible = _refuse_unserved(eligible, result)
    if eligible:
        result.cascaded = lineage.lock_descendants(eligible, cascaded_only=True)
        with connection.cursor() as cursor:
            cursor.execute(RESUME_RUNS, {"run_ids": eligible + result.cascaded})
    result.done.update({run_id: run_id for run_id in eligible})
    return result


def _refuse_unserved(run_ids: list[str], result: BulkResult) -> list[str]:
    """Refuse to resume runs whose code version no executor has; offer a fork instead."""
    if not run_ids:
        return run_ids
    keys = serving.served_keys()
    runs = Run.objects.filter(id__in=run_ids).values_list("id", "workflow", "version")
    unserved = {
        run_id: reason
        for run_id, workflow, version in runs
        if (reason := serving.unserved_reason(workflow, version, keys))
    }
    for run_id, step in fork_points(list(unserved)).items():
        result.refused[run_id] = (  # no run id in it: a bulk action groups refusals by text
            f"{unserved[run_id]}; fork it onto the current code from step {step} instead "
            "(`durable fork RUN_ID --from-step N`), or deploy that version"
        )
    return [run_id for run_id in run_ids if run_id not in unserved]


def resume_blocker(run_id: str) -> tuple[str, int] | None:
    """Why resuming this run would leave it waiting forever, and the step to fork it from
    onto the current code instead; None when a resume would be picked up."""
    run = Run.objects.filter(id=run_id).values_list("workflow", "version").first()
    if run is None:
        return None
    reason = serving.unserved_reason(*run, serving.served_keys())
    return (reason, fork_points([run_id])[run_id]) if reason else None
