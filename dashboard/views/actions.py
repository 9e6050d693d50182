"""Operator actions on one run. POST + CSRF only, `operate_runs` only, audited as the user.

After an action the operator lands on the run that carries on (the new one for restart
and fork), with a message that says what happened and links to both runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from dashboard import idempotency
from dashboard.forms import ForkForm, MoveForm, NewRunFields, RestartForm, RunActionForm
from dashboard.permissions import operator_required
from dashboard.views.common import bad_request
from durable import operations
from durable.errors import DurableError, InvalidArgumentError, InvalidRunIdError, RunNotFoundError

UNCONFIRMED_SHOWN = 5  # a cancelled tree's runs whose executor did not confirm the stop


def _run_link(run_id: str) -> str:
    return format_html('<a href="{}">{}</a>', reverse("dashboard:run", args=[run_id]), run_id)


def act(
    request: HttpRequest,
    run_id: str,
    call: Callable[[], operations.BulkResult],
    done: str,
    reason: str = "",
    landing: str | None = None,
    bad_argument: Callable[[InvalidArgumentError], HttpResponse] | None = None,
) -> HttpResponse:
    """Run one operation as the logged-in user; report its outcome or its refusal; land on
    the run that carries on (or on `landing`, a page name, when none does). A refused
    argument goes to `bad_argument`, when given: the form that sent it, shown again.

    When the same form was already acted on (a double click), the operator lands where the
    first submission led and is told who acted and when; nothing is done twice.
    """
    try:
        with operations.acting_as(request.user.get_username()):
            result = call()
    except DurableError as exc:
        if bad_argument is not None and isinstance(exc, InvalidArgumentError):
            return bad_argument(exc)
        messages.error(request, format_html("Nothing changed: {}", str(exc)))
        if isinstance(exc, RunNotFoundError | InvalidRunIdError):
            return redirect("dashboard:runs")  # no run page to go back to
        return redirect("dashboard:run", run_id=run_id)
    if run_id in result.refused:
        messages.error(request, format_html("Nothing changed: {}", result.refused[run_id]))
        if result.refused[run_id] == "no such run":
            return redirect("dashboard:runs")  # no run page to go back to
        return redirect("dashboard:run", run_id=run_id)
    result_id = result.done[run_id]
    text = format_html(done, new=_run_link(result_id), old=_run_link(run_id), run_id=run_id)
    if reason:
        text = format_html("{} Reason, in the audit log: “{}”.", text, reason)
    if result.previous:
        text = format_html(
            "Already done by {} at {} UTC (this form was sent twice): {}",
            result.previous["actor"],
            result.previous["at"][11:19],
            text,
        )
    messages.success(request, text)
    for stopped_id, why in list(result.unconfirmed.items())[:UNCONFIRMED_SHOWN]:
        messages.warning(request, format_html("Stop of {} not confirmed: {}", stopped_id, why))
    if landing:
        return redirect(landing)
    return redirect("dashboard:run", run_id=result_id)


def _request_id(request: HttpRequest, action: str, form: RunActionForm | ForkForm) -> str:
    """One id per form as rendered for one user: the same form sent twice is recognised
    (without the page's `seen` field, within a time window: `dashboard.idempotency`)."""
    data = form.cleaned_data
    parts = [data["run_id"], str(data.get("from_step", ""))]
    parts.append(form.data.get("input", "") if isinstance(form, ForkForm) else "")
    if isinstance(form, NewRunFields):  # another new id or queue is another request
        parts.extend(str(value) for value in form.new_run().values())
    return idempotency.request_id(request, action, parts, data.get("seen"))


def _invalid(request: HttpRequest, action: str, form: RunActionForm | ForkForm) -> HttpResponse:
    """A bad run id is a bad request; other fields' errors are told on the run's page."""
    if "run_id" in form.errors:
        return bad_request(f"Invalid {action} request: {form.errors.as_text()}")
    errors = "; ".join(str(error) for error_list in form.errors.values() for error in error_list)
    messages.error(request, format_html("Nothing changed: {}", errors))
    return redirect("dashboard:run", run_id=form.cleaned_data["run_id"])


def _on_one_run(
    request: HttpRequest,
    action: str,
    operation: Callable[..., operations.BulkResult],
    done: str,
    form_class: type[RunActionForm] = RunActionForm,
    landing: str | None = None,
) -> HttpResponse:
    """Parse the form and call `operation([run_id], form, request_id=…)`."""
    form = form_class(request.POST)
    if not form.is_valid():
        return _invalid(request, action, form)
    run_id, data = form.cleaned_data["run_id"], form.cleaned_data
    reason = data["reason"].strip()
    request_id = _request_id(request, action, form)
    return act(
        request,
        run_id,
        lambda: operation([run_id], form, request_id=request_id),
        done,
        reason,
        landing,
    )


def _in_place(action: str, done: str, fallback: str = "", landing: str | None = None):
    """The view of an action that changes the run in place (cancel, resume, hold, release,
    delete): `operations.<action>([run_id], reason=…)` with the form's reason, or, when it is
    blank, `fallback` ("cancelled" → "cancelled by alice from the dashboard")."""

    @operator_required
    def view(request: HttpRequest) -> HttpResponse:
        default = f"{fallback} by {request.user.get_username()} from the dashboard"

        def call(run_ids: list[str], form: RunActionForm, **options: Any) -> Any:
            reason = form.cleaned_data["reason"].strip() or (default if fallback else "")
            if action == "resume":  # a run restarted or forked since the page loaded: refused
                options["unless_derived_since"] = form.cleaned_data["seen"]
            return getattr(operations, action)(run_ids, reason=reason, **options)

        return _on_one_run(request, action, call, done, landing=landing)

    view.__name__ = view.__qualname__ = action
    return view


resume = _in_place(
    "resume", "Resumed {old}: it is enqueued and continues from its last checkpoint."
)
cancel = _in_place(
    "cancel",
    "Cancelled {old}: it stops at its next step boundary; its checkpoints stay.",
    fallback="cancelled",
)
hold = _in_place(
    "hold",
    "Held {old}: it stops at its next step boundary and waits until released.",
    fallback="held",
)
release = _in_place("release", "Released {old}: it goes on from where it stopped.")
delete = _in_place(
    "delete",
    "Deleted run {run_id} with its children and everything recorded for them; the audit "
    "log keeps the deletion.",
    landing="dashboard:runs",
)


@operator_required
def restart(request: HttpRequest) -> HttpResponse:
    return _on_one_run(
        request,
        "restart",
        lambda run_ids, form, **options: operations.restart(
            run_ids,
            reason=form.cleaned_data["reason"].strip(),
            unless_derived_since=form.cleaned_data["seen"],
            **form.new_run(),
            **options,
        ),
        "Restarted {old} as new run {new}, from step 0 with the same input.",
        RestartForm,
    )


@operator_required
def fork(request: HttpRequest) -> HttpResponse:
    form = ForkForm(request.POST)
    if not form.is_valid():
        return _invalid(request, "fork", form)
    run_id, step = form.cleaned_data["run_id"], form.cleaned_data["from_step"]
    reason = form.cleaned_data["reason"].strip()
    args, kwargs = form.edited()
    edited = " with edited input" if args is not None or kwargs is not None else ""
    options: dict[str, Any] = {"request_id": _request_id(request, "fork", form)}
    seen = form.cleaned_data["seen"]
    return act(
        request,
        run_id,
        lambda: operations.fork(
            [run_id],
            from_step=step,
            args=args,
            kwargs=kwargs,
            reason=reason,
            unless_derived_since=seen,
            **form.new_run(),
            **options,
        ),
        f"Forked {{old}} from step {step}{edited} as new run {{new}}: {_reused(step)} "
        "the recorded checkpoints, the rest runs again."
        if step
        else f"Forked {{old}} from step 0{edited} as new run {{new}}: every step runs again.",
        reason,
    )


def _reused(step: int) -> str:
    return "step 0 reuses" if step == 1 else f"steps 0–{step - 1} reuse"


@operator_required
def move(request: HttpRequest) -> HttpResponse:
    """A waiting run to another queue (a way out of a full or backed-up one)."""
    return _on_one_run(
        request,
        "move",
        lambda run_ids, form, **_: operations.move(
            run_ids, form.cleaned_data["queue"], reason=form.cleaned_data["reason"].strip()
        ),
        "Moved {old} to another queue: its limits and order apply from its next claim.",
        MoveForm,
    )


@operator_required
def run_first(request: HttpRequest) -> HttpResponse:
    """A waiting run ahead of its queue's backlog: the highest priority."""
    return _on_one_run(
        request,
        "prioritize",
        lambda run_ids, form, **_: operations.prioritize(
            run_ids, operations.RUN_FIRST, reason=form.cleaned_data["reason"].strip()
        ),
        "{old} now has the highest priority: claims take it before the runs waiting with it.",
    )
