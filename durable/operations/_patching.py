"""Patched forks: fork a run with the recorded output of an earlier step replaced.

"The upstream answer was wrong; use this one": the fork's copy of step K gets the edited
output (a failed step K becomes a success with it) and is marked `patched`; the audit
entry of the fork keeps the old and the new value — or, past AUDIT_VALUE_CHARS of JSON,
a preview of each and its length: the whole values stay in the original run's step and
in the fork's, so a log of many large edits stays small to store and to show.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from durable.core._serialization import dumps
from durable.errors import (
    InvalidPatchError,
    OperationRefused,
    PatchTooLargeError,
    PayloadTooLargeError,
    SerializationError,
    UnstorablePatchError,
)
from durable.models import Step, StepKind, StepStatus

PATCHABLE_KINDS = (StepKind.STEP, StepKind.TRANSACTION)
AUDIT_VALUE_CHARS = 2048


def prepare(
    run_ids: str | Iterable[str], from_step: int | None, patch: dict[Any, Any]
) -> tuple[str | list[str], int, dict[str, Any]]:
    """Check `patch` against the runs' histories before anything is written.

    Returns the run ids (a list if a list was given), the step to fork from (default:
    the step after the last patched one) and the audit detail: per run, per patched step,
    the old and the new value. A patch wrong in itself is an InvalidPatchError; one that
    names a step a run did not record, an OperationRefused.
    """
    ids: str | list[str] = run_ids if isinstance(run_ids, str) else list(run_ids)
    positions = normalized(patch)
    from_step = max(positions) + 1 if from_step is None else from_step
    late = [position for position in positions if position >= from_step]
    if late:
        raise InvalidPatchError(
            f"step {late[0]} is not before the fork point (from_step {from_step}): only "
            f"outputs the fork reuses can be patched; fork from step {late[0] + 1} or later"
        )
    for position, value in positions.items():
        try:
            dumps(value, where=f"patched output of step {position}")
        except SerializationError as exc:
            raise _unstorable(exc) from exc
    audit = _old_and_new([ids] if isinstance(ids, str) else ids, positions)
    return ids, from_step, audit


def _unstorable(exc: SerializationError) -> UnstorablePatchError:
    """The patch error for an output `dumps` refused, of the same kind (too large or not)."""
    too_large = isinstance(exc, PayloadTooLargeError)
    return (PatchTooLargeError if too_large else UnstorablePatchError)(str(exc))


def normalized(patch: dict[Any, Any]) -> dict[int, Any]:
    """Step numbers as ints (JSON and forms give them as text)."""
    if not patch:
        raise InvalidPatchError("the patch is empty: give {step number: new output}")
    positions = {}
    for key, value in patch.items():
        position = _position(key)
        if position in positions:
            raise InvalidPatchError(f"step {position} is patched twice; give it once")
        positions[position] = value
    return positions


def _position(key: Any) -> int:
    """A step number: an int of 0 or more, or its decimal digits as text, nothing else."""
    # at most 9 digits: no history is longer, and int() refuses text past 4,300 digits
    if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 9:
        return int(key)
    if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
        return key
    raise InvalidPatchError(
        f'patch keys are step numbers (0 or more, e.g. 2 or "2"), not {key!r:.40}'
    )


def _old_and_new(run_ids: list[str], positions: dict[int, Any]) -> dict[str, Any]:
    rows = Step.objects.of_runs(run_ids).filter(position__in=list(positions))
    found = {(row.run_id, row.position): row for row in rows}
    audit: dict[str, Any] = {}
    for run_id in run_ids:
        audit[run_id] = {}
        for position, new in positions.items():
            row = _patchable(run_id, position, found.get((run_id, position)))
            old = row.output if row.status == StepStatus.SUCCESS else None
            audit[run_id][str(position)] = {
                "step": row.name,
                "old_status": row.status,
                **_audited_value("old", old),
                "old_error": (row.error or {}).get("message") if row.error else None,
                **_audited_value("new", new),
            }
    return audit


def _audited_value(name: str, value: Any) -> dict[str, Any]:
    """`{name: value}` when its JSON fits AUDIT_VALUE_CHARS; else None with the JSON's
    first AUDIT_VALUE_CHARS characters (`<name>_preview`) and its length (`<name>_chars`)."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= AUDIT_VALUE_CHARS:
        return {name: value}
    return {name: None, f"{name}_preview": text[:AUDIT_VALUE_CHARS], f"{name}_chars": len(text)}


def _patchable(run_id: str, position: int, row: Step | None) -> Step:
    if row is None:
        raise OperationRefused(
            run_id, f"it has no recorded step {position}; patch a step it recorded"
        )
    if row.kind not in PATCHABLE_KINDS:
        raise OperationRefused(
            run_id,
            f"its step {position} is a {row.kind} entry, not a step; only step outputs "
            "can be patched",
        )
    return row


def apply(new_id: str, patch: dict[Any, Any]) -> None:
    """Replace the outputs in the fork's copied checkpoints (called inside the fork's
    transaction, after the copy)."""
    fork_history = Step.objects.of_runs([new_id])  # its partition only (docs/partitioning.md)
    for position, value in normalized(patch).items():
        fork_history.filter(position=position).update(
            output=json.loads(dumps(value, where=f"patched output of step {position}")),
            status=StepStatus.SUCCESS,
            error=None,
            error_type="",
            error_fingerprint="",
            patched=True,
        )
