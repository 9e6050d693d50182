"""Operator actions on one run. POST + CSRF only, `operate_runs` only, audited as the user.

After an action the operator lands on the run that carries on (the new one for restart
and fork), with a message that says what happened and links to both runs.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from dashboard.forms import ForkForm, RunActionForm
from dashboard.permissions import operator_required
from durable import operations
from durable.errors import DurableError, InvalidRunIdError, RunNotFoundError


def _run_link(run_id: str) -> str:
    return format_html('<a href="{}">{}</a>', reverse("dashboard:run", args=[run_id]), run_id)


def _act(
    request: HttpRequest, run_id: str, call: Callable[[], str], done: str, reason: str = ""
) -> HttpResponse:
    """Run one operation as the logged-in user; report its outcome or its refusal."""
    try:
        with operations.acting_as(request.user.get_username()):
            result_id = call()
    except DurableError as exc:
        messages.error(request, format_html("Nothing changed: {}", str(exc)))
        if isinstance(exc, RunNotFoundError | InvalidRunIdError):
            return redirect("dashboard:runs")  # no run page to go back to
        return redirect("dashboard:run", run_id=run_id)
    text = format_html(done, new=_run_link(result_id), old=_run_link(run_id))
    if reason:
        text = format_html("{} Reason, in the audit log: “{}”.", text, reason)
    messages.success(request, text)
    return redirect("dashboard:run", run_id=result_id)


def _on_one_run(
    request: HttpRequest, operation: Callable[[str, str], str], done: str
) -> HttpResponse:
    """Parse the form and call `operation(run_id, reason)`; `done` describes the outcome."""
    form = RunActionForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("run_id is required")
    run_id, reason = form.cleaned_data["run_id"], form.cleaned_data["reason"].strip()
    return _act(request, run_id, lambda: operation(run_id, reason), done, reason)


@operator_required
def resume(request: HttpRequest) -> HttpResponse:
    return _on_one_run(
        request,
        lambda run_id, reason: operations.resume(run_id, reason=reason),
        "Resumed {old}: it is enqueued and continues from its last checkpoint.",
    )


@operator_required
def restart(request: HttpRequest) -> HttpResponse:
    return _on_one_run(
        request,
        lambda run_id, reason: operations.restart(run_id, reason=reason),
        "Restarted {old} as new run {new}, from step 0 with the same input.",
    )


@operator_required
def cancel(request: HttpRequest) -> HttpResponse:
    fallback = f"cancelled by {request.user.get_username()} from the dashboard"
    return _on_one_run(
        request,
        lambda run_id, reason: operations.cancel(run_id, reason=reason or fallback),
        "Cancelled {old}: it stops at its next step boundary; its checkpoints stay.",
    )


@operator_required
def fork(request: HttpRequest) -> HttpResponse:
    form = ForkForm(request.POST)
    if not form.is_valid():
        run_id = request.POST.get("run_id", "")[:200]
        errors = "; ".join(
            str(error) for error_list in form.errors.values() for error in error_list
        )
        messages.error(request, format_html("Nothing changed: {}", errors))
        return redirect("dashboard:run", run_id=run_id) if run_id else redirect("dashboard:runs")
    run_id, step = form.cleaned_data["run_id"], form.cleaned_data["from_step"]
    reason = form.cleaned_data["reason"].strip()
    args, kwargs = form.edited()
    edited = " with edited input" if args is not None or kwargs is not None else ""
    return _act(
        request,
        run_id,
        lambda: operations.fork(run_id, from_step=step, args=args, kwargs=kwargs, reason=reason),
        f"Forked {{old}} from step {step}{edited} as new run {{new}}: {_reused(step)} "
        "the recorded checkpoints, the rest runs again."
        if step
        else f"Forked {{old}} from step 0{edited} as new run {{new}}: every step runs again.",
        reason,
    )


def _reused(step: int) -> str:
    return "step 0 reuses" if step == 1 else f"steps 0–{step - 1} reuse"
