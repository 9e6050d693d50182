"""Operator actions on one run: resume, restart, fork, cancel, hold, release, delete, move
to another queue, run first, and the preview.

Each keeps the dashboard's guarantees: the dashboard's forms check the fields (the same
words), a reason is required (it goes to the audit log), a request id makes a repeat act
once (`Idempotency-Key`, or `request_id` in the body; without either, the dashboard's
time window), the engine's refusals are told as they are, and the audit entry names the
token's user and the token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import AfterValidator

from dashboard import idempotency
from dashboard.api.auth import actor
from dashboard.api.parsing import Body
from dashboard.api.problems import ERRORS, ApiProblem, Problem, invalid_form
from dashboard.forms import ForkForm, MoveForm, RestartForm, RunActionForm
from durable import operations
from durable.debugging import preview
from durable.models import Run

router = Router(tags=["run actions"])
REASON = Field(..., min_length=1, max_length=500, description="why, for the audit log")


def _said(reason: str) -> str:
    """A reason of only spaces is refused: the audit log would keep it stripped, empty."""
    if not reason.strip():
        raise ValueError("write why, for the audit log: a reason of only spaces says nothing")
    return reason


Reason = Annotated[str, AfterValidator(_said)]


class RunAction(Body):
    run_id: str = Field(..., max_length=200)
    reason: Reason = REASON
    request_id: str | None = Field(default=None, max_length=200, description="or Idempotency-Key")


class NewRunAction(RunAction):
    new_run_id: str | None = Field(None, max_length=200)
    queue: str | None = Field(None, max_length=200)
    timeout: float | None = None
    run_first: bool = Field(False, description="the highest priority: claimed before the backlog")


class MoveAction(RunAction):
    queue: str = Field(..., max_length=200, description="the queue to move the run to")


class Input(Body):
    args: list[Any] = []
    kwargs: dict[str, Any] = {}


class ForkAction(NewRunAction):
    # strict: `true` or "1" is no step number (lax parsing would read `true` as step 1)
    from_step: int = Field(..., ge=0, le=2**31 - 1, strict=True)
    input: Input | None = None  # edited input; none keeps the recorded one
    # keys as sent: the engine judges them, so "0" and "00" are one step given twice, not
    # one of the two outputs dropped by a conversion to int
    patch: dict[str, Any] | None = Field(
        None, description='{step: output} for steps before from_step, e.g. {"2": {"ok": true}}'
    )


class ActionResult(Schema):
    run_id: str
    result_run_id: str  # the run that carries on: the new one after a restart or fork
    repeated: bool  # this request id was acted on before: nothing was done twice
    previous_actor: str | None = None
    previous_at: str | None = None
    unconfirmed: dict[str, str] = Field(
        default_factory=dict,
        description="cancel: each run (of the tree) whose executor did not confirm the stop, "
        "with why and what happens to the run next",
    )


def request_id(request: HttpRequest, action: str, payload: Schema) -> str:
    key = request.headers.get("Idempotency-Key") or getattr(payload, "request_id", None)
    username = request.user.get_username()
    if key:
        return idempotency.keyed(username, action, key[:200])
    parts = [json.dumps(payload.dict(exclude={"request_id"}), sort_keys=True, default=str)]
    return idempotency.request_id(request, action, parts, None)


def _form(form_class: type, payload: Schema, **extra: Any):
    data = {name: value for name, value in payload.dict().items() if value is not None}
    form = form_class({**data, **extra})
    if not form.is_valid():
        raise invalid_form(form)
    return form


def perform(
    request: HttpRequest, run_id: str, call: Callable[[], operations.BulkResult]
) -> dict[str, Any]:
    """Call one operation as the token's user; its refusal is a problem in its words."""
    with operations.acting_as(actor(request)):
        result = call()
    if run_id in result.refused:
        reason = result.refused[run_id]
        if run_id in result.refused_input:  # what was sent is wrong, not the run's state
            raise ApiProblem(
                400, f"Nothing changed: {reason}", [{"field": "input", "message": reason}]
            )
        raise ApiProblem(404 if reason == "no such run" else 409, f"Nothing changed: {reason}")
    previous = result.previous or {}
    return {
        "run_id": run_id,
        "result_run_id": result.done[run_id],
        "repeated": bool(previous),
        "previous_actor": previous.get("actor"),
        "previous_at": previous.get("at"),
        "unconfirmed": result.unconfirmed,
    }


RESPONSES = {200: ActionResult, ERRORS: Problem}


def act(request: HttpRequest, action: str, payload: RunAction, form, **options: Any):
    """`operations.<action>` on the form's run, with the payload's reason and request id."""
    run_id, rid = form.cleaned_data["run_id"], request_id(request, action, payload)
    operation = getattr(operations, action)
    reason = payload.reason.strip()
    return perform(
        request, run_id, lambda: operation([run_id], reason=reason, request_id=rid, **options)
    )


@router.post("/runs/actions/resume", response=RESPONSES, summary="Resume a run")
def resume(request: HttpRequest, payload: RunAction) -> dict[str, Any]:
    """Continue a failed, cancelled or dead run from its last checkpoint."""
    return act(request, "resume", payload, _form(RunActionForm, payload))


@router.post("/runs/actions/cancel", response=RESPONSES, summary="Cancel a run")
def cancel(request: HttpRequest, payload: RunAction) -> dict[str, Any]:
    """Stop the run (and its children) at the next step boundary; checkpoints stay."""
    return act(request, "cancel", payload, _form(RunActionForm, payload))


@router.post("/runs/actions/hold", response=RESPONSES, summary="Hold a run")
def hold(request: HttpRequest, payload: RunAction) -> dict[str, Any]:
    """Park an enqueued or running run at its next step boundary (the step in flight keeps
    its checkpoint); it waits, held, until released."""
    return act(request, "hold", payload, _form(RunActionForm, payload))


@router.post("/runs/actions/release", response=RESPONSES, summary="Release a held run")
def release(request: HttpRequest, payload: RunAction) -> dict[str, Any]:
    """Let a held run go on from where it stopped."""
    return act(request, "release", payload, _form(RunActionForm, payload))


@router.post("/runs/actions/delete", response=RESPONSES, summary="Delete a finished run")
def delete(request: HttpRequest, payload: RunAction) -> dict[str, Any]:
    """Delete a finished run with its children; the audit log keeps the deletion."""
    return act(request, "delete", payload, _form(RunActionForm, payload))


@router.post("/runs/actions/move", response=RESPONSES, summary="Move a waiting run to a queue")
def move(request: HttpRequest, payload: MoveAction) -> dict[str, Any]:
    """A way out of a full or backed-up queue: the other queue's limits and order apply
    from the run's next claim. Only an enqueued run is moved."""
    form = _form(MoveForm, payload)
    return act(request, "move", payload, form, queue=form.cleaned_data["queue"])


@router.post("/runs/actions/run-first", response=RESPONSES, summary="Run a waiting run first")
def run_first(request: HttpRequest, payload: RunAction) -> dict[str, Any]:
    """The highest priority: claims take the enqueued run before the runs waiting with it."""
    form = _form(RunActionForm, payload)
    return act(request, "prioritize", payload, form, priority=operations.RUN_FIRST)


@router.post("/runs/actions/restart", response=RESPONSES, summary="Restart a run")
def restart(request: HttpRequest, payload: NewRunAction) -> dict[str, Any]:
    """A new run of the same workflow with the same input (optionally its id, queue, timeout)."""
    form = _form(RestartForm, payload)
    return act(request, "restart", payload, form, **form.new_run())


@router.post("/runs/actions/fork", response=RESPONSES, summary="Fork a run from a step")
def fork(request: HttpRequest, payload: ForkAction) -> dict[str, Any]:
    """A new run reusing checkpoints before `from_step`, with edited input and patched
    outputs of earlier steps if given."""
    edited = json.dumps(payload.input.dict()) if payload.input is not None else ""
    form = _form(ForkForm, payload.model_copy(update={"input": None, "patch": None}), input=edited)
    args, kwargs = form.edited()
    return act(
        request,
        "fork",
        payload,
        form,
        from_step=payload.from_step,
        args=args,
        kwargs=kwargs,
        patch=payload.patch or None,
        **form.new_run(),
    )


class PreviewRequest(Body):
    action: Literal["resume", "restart", "fork"]
    run_ids: list[Annotated[str, Field(max_length=200)]] = Field(..., min_length=1, max_length=1000)
    from_step: int | None = Field(None, ge=0, le=2**31 - 1, strict=True)


class PreviewAnswer(Schema):
    action: str
    runs: int
    summary: list[dict[str, Any]]
    lines: list[str]
    refused: dict[str, str] = Field(
        default_factory=dict, description="runs the action would refuse, with the engine's words"
    )


@router.post(
    "/runs/actions/preview",
    response={200: PreviewAnswer, ERRORS: Problem},
    summary="Which recorded steps would run again",
)
def preview_action(request: HttpRequest, payload: PreviewRequest) -> dict[str, Any]:
    """Before a resume, restart or fork: the steps that run again, risky ones flagged.
    Changes nothing."""
    for run_id in payload.run_ids:
        _form(RunActionForm, RunAction(run_id=run_id, reason="preview"))
    known = set(Run.objects.filter(id__in=payload.run_ids).values_list("id", flat=True))
    if missing := [run_id for run_id in payload.run_ids if run_id not in known]:
        raise ApiProblem(
            404,
            f"No run {missing[0][:200]!r}"
            + (f" (nor {len(missing) - 1} more)." if len(missing) > 1 else "."),
        )
    found = preview.preview(payload.action, payload.run_ids, payload.from_step)
    answer = found.as_json()
    refusals = [f"{run_id}: refused: {why}" for run_id, why in answer["refused"].items()]
    lines = found.lines() + refusals
    return {**answer, "lines": lines}
