"""How an operator action is applied: in batches of locked runs, once per request id,
each batch audited, the runs it changed dispatched after commit.

`apply` takes the action's batch handler (`_resuming`, `_deriving`, `_deletion`);
`durable.operations` is the public face of all of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from durable.core import _dispatch as dispatching
from durable.core import _lineage as lineage
from durable.core import _validation as validation
from durable.core._audit import current_actor
from durable.core._serialization import dumps
from durable.core._validation import validate_run_id
from durable.core.store import _db as db
from durable.errors import (
    InvalidArgumentError,
    InvalidRunIdError,
    OperationRefused,
    RunNotFoundError,
    SerializationError,
)
from durable.models import AuditEntry
from durable.operations import _superseded as superseded

BATCH_SIZE = 500


@dataclass
class BulkResult:
    """`done` maps each affected run to its resulting run (itself, or the new run);
    `cascaded` lists the children a resume brought back with their parents (or a delete
    took along); `skipped` maps each superseded run a restart left alone to the run that
    supersedes it (`durable.operations._superseded`)."""

    done: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    cascaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    # set when a `request_id` was seen before: who acted first and when (nothing was redone)
    previous: dict[str, str] | None = None
    # cancel: runs whose executor did not confirm the stop, each with why
    # (`durable.operations._cancel_confirmation`); a step of them may still start until it
    # hears, unless the why says it died
    unconfirmed: dict[str, str] = field(default_factory=dict)
    # of `refused`, the runs refused for the edited input the call gave them (it cannot be
    # stored, or does not fit the workflow), not for their state: other input would do
    refused_input: list[str] = field(default_factory=list)

    @property
    def done_count(self) -> int:
        return len(self.done)

    @property
    def refused_count(self) -> int:
        return len(self.refused)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    def merge(self, other: BulkResult) -> None:
        self.done.update(other.done)
        self.refused.update(other.refused)
        self.skipped.update(other.skipped)
        self.cascaded = list(dict.fromkeys([*self.cascaded, *other.cascaded]))
        self.unconfirmed.update(other.unconfirmed)
        self.refused_input = [*self.refused_input, *other.refused_input]


Progress = Callable[[int, int], None]
# splits a request's ids into batches, each keyed by its offset (the audit's "batch")
Batching = Callable[[list[str], int], list[tuple[int, list[str]]]]


def chunks(run_ids: list[str], size: int) -> list[tuple[int, list[str]]]:
    return [(start, run_ids[start : start + size]) for start in range(0, len(run_ids), size)]


def run_id_list(run_ids: Any) -> list[Any]:
    """The ids as a list without repeats (one id or an iterable of them)."""
    if isinstance(run_ids, str):
        return [run_ids]
    if isinstance(run_ids, bytes | dict) or not isinstance(run_ids, Iterable):
        raise InvalidArgumentError(
            "run_ids", f"must be a run id or a list of them, not {type(run_ids).__name__}"
        )
    items = list(run_ids)
    if all(isinstance(item, str) for item in items):
        return list(dict.fromkeys(items))
    return items  # the non-strings are refused as invalid ids below


def apply(
    action: str,
    run_ids: str | Iterable[str],
    actor: str | None,
    progress: Progress | None,
    detail: dict[str, Any],
    handle_batch: Callable[[list[str]], BulkResult],
    dispatch: bool = True,
    batches: Batching | None = None,
) -> Any:
    """Act on `run_ids` batch by batch with `handle_batch`, each batch in one transaction
    that locks its runs and audits the outcome; one id gives its result or raises.
    `batches` splits the valid ids (default: chunks of BATCH_SIZE in the given order)."""
    single = isinstance(run_ids, str)
    ids = run_id_list(run_ids)
    validation.text("actor", actor)
    validation.text("request_id", detail.get("request_id"))
    result, valid = _invalid_ids_refused(ids, single)
    if result.refused and not valid:  # audited like every other refusal
        _audit(action, actor, [], result, detail)
    handled = 0
    call = uuid.uuid4().hex  # names this call's audit entries: a lost commit is found by it
    for start, batch in (batches or chunks)(valid, BATCH_SIZE):

        def act(start: int = start, batch: list[str] = batch) -> BulkResult:
            outcome = _handle_once(action, batch, detail, handle_batch)
            if outcome.previous is None:
                audited = BulkResult(outcome.done, {**outcome.refused}, outcome.cascaded,
                                     outcome.skipped)  # fmt: skip
                if start == 0:  # the invalid ids' refusals go with the first batch
                    audited.refused.update(result.refused)
                _audit(action, actor, batch, audited, {**detail, "batch": start, "call": call})
            return outcome

        # a connection lost in the batch's transaction retries it whole, unless its commit
        # got through (its audit entry says so): nothing is done twice
        outcome = db.atomic_retrying(
            act, settle=partial(_committed, action, batch, call), what=action
        )
        result.merge(outcome)
        result.previous = result.previous or outcome.previous
        for run_id in [*outcome.done.values(), *outcome.cascaded] if dispatch else []:
            dispatching.dispatch_on_commit(run_id)
        handled += len(batch)
        if progress is not None:
            progress(handled, len(valid))
    if not single:
        return result
    return _single_outcome(ids[0], result)


def _invalid_ids_refused(ids: list[Any], single: bool) -> tuple[BulkResult, list[str]]:
    result, valid = BulkResult(), []
    for run_id in ids:
        try:
            valid.append(validate_run_id(run_id))
        except InvalidRunIdError as exc:
            if single:
                raise
            result.refused[_printable(run_id)] = str(exc)
    return result, valid


def _printable(run_id: Any) -> str:
    """An invalid id as the audit log can hold it (no NUL, bounded)."""
    text = run_id if isinstance(run_id, str) else repr(run_id)
    return text[:200].replace("\x00", "\\x00")


def _single_outcome(run_id: str, result: BulkResult) -> str:
    if run_id in result.skipped:
        raise OperationRefused(run_id, superseded.skipped_reason(result.skipped[run_id]))
    if run_id in result.refused:
        if result.refused[run_id] == "no such run":
            raise RunNotFoundError(f"no run with id {run_id!r}")
        raise OperationRefused(run_id, result.refused[run_id])
    return result.done[run_id]


@lineage.retrying_deadlocks
def _handle_once(
    action: str,
    batch: list[str],
    detail: dict[str, Any],
    handle_batch: Callable[[list[str]], BulkResult],
) -> BulkResult:
    """Lock the batch's runs (in id order, so concurrent calls cannot deadlock: see
    `durable.core._lineage`), then either return what an earlier call with the same request_id
    did, or act. A deadlock across tree levels rolls the savepoint back (this lock too)
    and judges the batch again."""
    lineage.lock_runs(batch)
    request_id = detail.get("request_id")
    if request_id is not None:
        earlier = _earlier_outcome(action, batch, request_id)
        if earlier is not None:
            return earlier
    return handle_batch(batch)


def _committed(action: str, batch: list[str], call: str) -> tuple[bool, BulkResult]:
    """Whether this call's transaction for `batch` committed (its reply lost), and what it did."""
    entry = AuditEntry.objects.filter(
        action=action, run_ids__overlap=batch, detail__call=call
    ).first()
    if entry is None:
        return False, BulkResult()
    detail = entry.detail
    return True, BulkResult(detail.get("done", {}), detail.get("refused", {}),
                            detail.get("cascaded", []))  # fmt: skip


def _earlier_outcome(action: str, batch: list[str], request_id: str) -> BulkResult | None:
    """What earlier calls with this request id did to the batch's runs: every audited
    batch holding one of them (a delete's batches follow its trees, which a repeat, with
    those runs gone, no longer sees: its batches can cut the first call's differently)."""
    entries = AuditEntry.objects.filter(
        action=action, run_ids__overlap=batch, detail__request_id=request_id
    ).order_by("id")
    result = None
    for entry in entries:
        if result is None:
            result = BulkResult(previous={"actor": entry.actor, "at": entry.created_at.isoformat()})
        result.merge(BulkResult(entry.detail.get("done", {}), entry.detail.get("refused", {}),
                                entry.detail.get("cascaded", []),
                                entry.detail.get("skipped", {})))  # fmt: skip
    return result


def _audit(
    action: str, actor: str | None, batch: list[str], outcome: BulkResult, detail: dict[str, Any]
) -> None:
    AuditEntry.objects.create(
        actor=current_actor(actor),
        action=action,
        run_ids=batch,
        detail=_storable(
            {
                **detail,
                "done": outcome.done,
                "refused": outcome.refused,
                **({"cascaded": outcome.cascaded} if outcome.cascaded else {}),
                **({"skipped": outcome.skipped} if outcome.skipped else {}),
            }
        ),
    )


def _storable(detail: dict[str, Any]) -> dict[str, Any]:
    """The audit detail as JSON can hold it: an edited input that was refused for holding
    NaN, a NUL or 1e400 is kept as its repr, so the refusal is still on record."""
    try:
        dumps(detail, where="audit entry")
    except SerializationError:
        for key in ("args", "kwargs"):
            detail[key] = _safe_repr(detail.get(key))
    return detail


def _safe_repr(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return repr(value)[:2000]
    except (ValueError, RecursionError):  # an int past 4,300 digits, a deep nest
        return f"<unprintable {type(value).__name__}>"


def locked_statuses(batch: list[str]) -> dict[str, str]:
    """Lock the batch's runs in id order (see `_lineage`) and read their statuses."""
    return {run_id: status for run_id, (status, _) in lineage.lock_runs(batch).items()}


def split_by_status(
    batch: list[str],
    statuses: dict[str, str],
    allowed: tuple[str, ...],
    refusal: Callable[[str], str],
) -> tuple[list[str], BulkResult]:
    """The runs whose status is `allowed`, and a result refusing the others with a reason."""
    result = BulkResult()
    eligible = []
    for run_id in batch:
        status = statuses.get(run_id)
        if status is None:
            result.refused[run_id] = "no such run"
        elif status in allowed:
            eligible.append(run_id)
        else:
            result.refused[run_id] = refusal(status)
    return eligible, result
