"""Drain and undrain an executor from the health page. POST + CSRF only, `operate_runs`
only, audited as the user (durable.operations.drain_executor)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.html import format_html

from dashboard.forms import ExecutorActionForm
from dashboard.permissions import operator_required
from dashboard.views.common import bad_request
from durable import operations
from durable.errors import DurableError


def _on_executor(
    request: HttpRequest, call: Callable[[str, dict], None], done: str
) -> HttpResponse:
    form = ExecutorActionForm(request.POST)
    if not form.is_valid():
        return bad_request(f"Invalid executor request: {form.errors.as_text()}")
    executor_id = form.cleaned_data["executor_id"]
    try:
        with operations.acting_as(request.user.get_username()):
            call(executor_id, form.cleaned_data)
    except DurableError as exc:
        messages.error(request, format_html("Nothing changed: {}", str(exc)))
    else:
        messages.success(request, format_html(done, executor=executor_id))
    return redirect("dashboard:system")


@operator_required
def drain(request: HttpRequest) -> HttpResponse:
    return _on_executor(
        request,
        lambda executor_id, data: operations.drain_executor(
            executor_id, reason=data["reason"].strip(), release_after=data["release_after"]
        ),
        "Draining {executor}: it takes no new runs; its runs in flight finish there.",
    )


@operator_required
def undrain(request: HttpRequest) -> HttpResponse:
    return _on_executor(
        request,
        lambda executor_id, data: operations.undrain_executor(
            executor_id, reason=data["reason"].strip()
        ),
        "Undrained {executor}: it takes new runs again.",
    )
