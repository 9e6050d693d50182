"""Operator actions on cron schedules: pause, resume, trigger. POST + CSRF only,
`operate_runs` only, audited as the user (by `durable.schedules`); back to the health page."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from dashboard import idempotency
from dashboard.forms import ScheduleActionForm
from dashboard.permissions import operator_required
from dashboard.views.common import bad_request
from durable import operations
from durable import schedules as durable_schedules
from durable.errors import DurableError
from durable.models import Run


def manual_run_id(name: str, request_id: str) -> str:
    return f"{name}@manual-{request_id[:12]}"


def _on_schedule(
    request: HttpRequest, action: str, call: Callable[[str, str, str], str]
) -> HttpResponse:
    """Parse the form, call `call(name, reason, request_id)` as the user, say what came of it."""
    form = ScheduleActionForm(request.POST)
    if not form.is_valid():
        return bad_request(f"Invalid {action} request: {form.errors.as_text()}")
    data = form.cleaned_data
    # the same form sent twice names the same run (`dashboard.idempotency`)
    request_id = idempotency.request_id(
        request, action, [data["name"]], data["seen"],
        acted_on=lambda rid: Run.objects.filter(id=manual_run_id(data["name"], rid)).exists(),
    )  # fmt: skip
    try:
        with operations.acting_as(request.user.get_username()):
            done = call(data["name"], data["reason"].strip(), request_id)
    except DurableError as exc:
        messages.error(request, format_html("Nothing changed: {}", str(exc)))
    else:
        messages.success(request, done)
    return redirect("dashboard:system")


@operator_required
def pause(request: HttpRequest) -> HttpResponse:
    def call(name: str, reason: str, _: str) -> str:
        durable_schedules.pause(name, reason=reason)
        return format_html(
            "Paused schedule {}: it starts no runs until resumed, and ticks that fall "
            "meanwhile will not run (backfill them if needed).",
            name,
        )

    return _on_schedule(request, "pause", call)


@operator_required
def resume(request: HttpRequest) -> HttpResponse:
    def call(name: str, reason: str, _: str) -> str:
        info = durable_schedules.resume(name, reason=reason)
        return format_html("Resumed schedule {}: next tick {} UTC.", name,
                           f"{info.next_tick_at:%Y-%m-%d %H:%M}")  # fmt: skip

    return _on_schedule(request, "resume", call)


@operator_required
def trigger(request: HttpRequest) -> HttpResponse:
    def call(name: str, reason: str, request_id: str) -> str:
        handle = durable_schedules.trigger(
            name, run_id=manual_run_id(name, request_id), reason=reason
        )
        link = format_html(
            '<a href="{}">{}</a>', reverse("dashboard:run", args=[handle.run_id]), handle.run_id
        )
        return format_html("Triggered schedule {}: started run {}.", name, link)

    return _on_schedule(request, "trigger", call)
