"""Queue limits from the workers page: an operator's override, or back to the code's.
POST + CSRF only, `operate_runs` only, audited as the user (durable.queues.set_limits)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.html import format_html

from dashboard.forms import QueueLimitsForm, QueueResetForm, RaiseLimitForm
from dashboard.permissions import operator_required
from durable import operations, queues
from durable.errors import DurableError
from durable.models import Run


@operator_required
def set_limits(request: HttpRequest) -> HttpResponse:
    form = QueueLimitsForm(request.POST)
    return _change(request, form, lambda name, reason: queues.set_limits(
        name, **form.limits(), reason=reason), "New limits for queue {} (an override: it wins "
        "over the code until reset): {}.")  # fmt: skip


@operator_required
def reset_limits(request: HttpRequest) -> HttpResponse:
    form = QueueResetForm(request.POST)
    return _change(request, form, lambda name, reason: queues.reset_limits(name, reason=reason),
                   "Queue {} follows its code declaration again: {}.")  # fmt: skip


@operator_required
def raise_limit(request: HttpRequest) -> HttpResponse:
    """One limit raised where runs wait on it (health page, run page); back to that page."""
    form = RaiseLimitForm(request.POST)
    back = _back(request.POST.get("run_id", ""))
    if not form.is_valid():
        errors = "; ".join(str(e) for error_list in form.errors.values() for e in error_list)
        messages.error(request, format_html("Nothing changed: {}", errors))
        return back
    data = form.cleaned_data
    name = data["name"]
    current = queues.stored_limits(name)
    if current is None:
        messages.error(
            request, format_html("Nothing changed: no queue {} is stored.", data["name"])
        )
        return back
    if data["limit"] == "concurrency":
        change = {"concurrency": data["value"]}
    else:
        change = {"rate_limit": (data["value"], (current.rate_limit or (0, 60.0))[1])}
    try:
        with operations.acting_as(request.user.get_username()):
            limits = queues.set_limits(name, **change, reason=data["reason"].strip())
    except DurableError as exc:
        messages.error(request, format_html("Nothing changed: {}", str(exc)))
        return back
    done = "Queue {} now has {} (an override: it wins over the code until reset)."
    messages.success(request, format_html(done, name, describe(limits)))
    return back


def _back(run_id: str) -> HttpResponse:
    """The run's page when the form came from one that exists, else the health page."""
    if run_id and Run.objects.filter(id=run_id).exists():
        return redirect("dashboard:run", run_id)
    return redirect("dashboard:system")


def _change(
    request: HttpRequest, form: Form, call: Callable[[str, str], queues.Limits], done: str
) -> HttpResponse:
    """Validate, check the queue is stored, act as the user; report on the workers page."""
    if not form.is_valid():
        errors = "; ".join(str(e) for error_list in form.errors.values() for e in error_list)
        messages.error(request, format_html("Nothing changed: {}", errors))
        return redirect("dashboard:workers")
    name = form.cleaned_data["name"]
    if queues.stored_limits(name) is None:
        messages.error(request, format_html("Nothing changed: no queue {} is stored.", name))
        return redirect("dashboard:workers")
    try:
        with operations.acting_as(request.user.get_username()):
            limits = call(name, form.cleaned_data["reason"].strip())
    except DurableError as exc:
        messages.error(request, format_html("Nothing changed: {}", str(exc)))
        return redirect("dashboard:workers")
    messages.success(request, format_html(done, name, describe(limits)))
    return redirect("dashboard:workers")


def describe(limits: queues.Limits) -> str:
    rate = limits.rate_limit
    return ", ".join([
        f"concurrency {limits.concurrency or 'unlimited'}",
        f"per worker {limits.worker_concurrency or 'unlimited'}",
        f"rate {f'{rate[0]} per {rate[1]:g} s' if rate else 'unlimited'}",
        f"priority {'on' if limits.priority else 'off'}",
    ])  # fmt: skip
