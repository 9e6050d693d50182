"""Hold and release: the batch handlers that park runs at their next step boundary and let
them go on.

A hold only marks the run (`held_at`): no executor claims a held run, and a running one
learns of it from its next checkpoint's reply (`durable.core.store.record_step` says
HELD) and gives the run back to the queue there, so holding costs no statement per step.
A release clears the mark; `apply` then dispatches the run as a resume does.
"""

from __future__ import annotations

from django.utils import timezone

from durable.models import Run, RunStatus
from durable.operations._batches import BulkResult, locked_statuses, split_by_status

NOT_HELD = "it is not held; only a held run can be released"


def hold_batch(batch: list[str], reason: str) -> BulkResult:
    """Hold the batch's enqueued or running runs (locked by the caller) not held already."""
    statuses = locked_statuses(batch)
    eligible, result = split_by_status(
        batch,
        statuses,
        RunStatus.active(),
        lambda status: f"it is {status}; only enqueued or running runs can be held",
    )
    for run_id in _held(eligible):
        result.refused[run_id] = "it is held already"
    eligible = [run_id for run_id in eligible if run_id not in result.refused]
    Run.objects.filter(id__in=eligible).update(held_at=timezone.now(), hold_reason=reason)
    result.done.update({run_id: run_id for run_id in eligible})
    return result


def release_batch(batch: list[str]) -> BulkResult:
    """Release the batch's held runs (locked by the caller); the others are refused."""
    statuses = locked_statuses(batch)
    result = BulkResult()
    held = _held(list(statuses))
    for run_id in batch:
        if run_id not in statuses:
            result.refused[run_id] = "no such run"
        elif run_id not in held:
            result.refused[run_id] = NOT_HELD
        else:
            result.done[run_id] = run_id
    Run.objects.filter(id__in=list(result.done)).update(held_at=None, hold_reason="")
    return result


def _held(run_ids: list[str]) -> set[str]:
    if not run_ids:
        return set()
    return set(
        Run.objects.filter(id__in=run_ids, held_at__isnull=False).values_list("id", flat=True)
    )
