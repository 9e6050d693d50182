"""Cancel and resume: the batch handlers that change runs in place, trees included.

A run cancelled while a step ran keeps that step's checkpoint when the step returns: its
executor holds the run (its lease) until then. Resuming it before would let another thread
run the step again beside the one still running it, so a resume waits for the hold to end,
for a while, and refuses the runs still held (`stopping_trees`).
"""

from __future__ import annotations

import time
from datetime import datetime

from durable.core import _lineage as lineage
from durable.core import _serving as serving
from durable.core.store import _trees as store_trees
from durable.models import Run, RunStatus
from durable.operations import _jobs as jobs
from durable.operations._batches import BulkResult, locked_statuses, split_by_status
from durable.operations._deriving import derived_since, fork_points


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
        jobs.abort_with_their_runs(stopped, reason or "cancelled by an operator")
        if cancelled is not None:
            cancelled.extend(stopped)
    result.done.update({run_id: run_id for run_id in eligible})
    return result


def resume_refusal(status: str) -> str:
    """Why a run of this status is not resumed (the action's and its preview's words)."""
    if status == RunStatus.SUCCESS:
        return "it already succeeded; restart it to run it again"
    return f"it is {status}; only failed, cancelled or dead runs can be resumed"


def resume_batch(batch: list[str], since: datetime | None = None) -> BulkResult:
    """Resumed runs take along the children their cancel took down, so they can go on.
    With `since`, a run restarted or forked at or after it is refused with who did it: its
    work goes on in that new run, and resuming it too would do the work twice."""
    statuses = locked_statuses(batch)
    eligible, result = split_by_status(batch, statuses, RunStatus.resumable(), resume_refusal)
    if since is not None and eligible:
        result.refused.update(derived_since(eligible, since))
        eligible = [run_id for run_id in eligible if run_id not in result.refused]
    eligible = _refuse_unserved(eligible, result)
    eligible = _refuse_stopping(eligible, result)
    if eligible:
        result.cascaded = lineage.lock_descendants(eligible, cascaded_only=True)
        store_trees.resume_runs(eligible + result.cascaded)
    result.done.update({run_id: run_id for run_id in eligible})
    return result


def wait_for_stops(run_ids: list[str], timeout: float) -> None:
    """Wait up to `timeout` seconds for the steps in flight at the cancel of `run_ids` (or of
    the children it took down) to return; outside the batch's transaction, whose locks would
    keep those steps from writing their checkpoints."""
    deadline = time.monotonic() + timeout
    while store_trees.stopping_trees(run_ids) and time.monotonic() < deadline:
        time.sleep(0.1)


def _refuse_stopping(run_ids: list[str], result: BulkResult) -> list[str]:
    """Refuse to resume runs whose tree has a step still running from before the cancel."""
    for asked, stopping, executor_id in store_trees.stopping_trees(run_ids):
        whose = "its step" if stopping == asked else "a step of a child its cancel took down"
        result.refused.setdefault(asked, (  # no run id in it: refusals are grouped by text
            f"{whose} in flight at the cancel is still running on executor {executor_id}; "
            "resume it once that step returns (it keeps its checkpoint), or restart the run"
        ))  # fmt: skip
    return [run_id for run_id in run_ids if run_id not in result.refused]


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
    workflow, version = run
    reason = serving.unserved_reason(workflow, version, serving.served_keys())
    return (reason, fork_points([run_id])[run_id]) if reason else None
