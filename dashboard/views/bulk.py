"""Bulk actions: a preview that counts what each action would touch, then a bulk job."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from dashboard import bulk
from dashboard.forms import BulkForm, BulkStartForm, RunFilterForm, filter_params
from dashboard.permissions import operator_page, operator_required
from dashboard.queries.runs import RunFilter, superseded_count
from dashboard.views import debug
from dashboard.views.common import bad_request, render_page
from dashboard.views.jobs import render_job
from durable.errors import DurableError, RequestIdConflictError


def _target(form: BulkForm, data) -> RunFilter:
    """The ticked runs, or the runs matching the filter fields sent alongside."""
    if form.cleaned_data["scope"] == "selected":
        return RunFilter(ids=tuple(form.cleaned_data["run_ids"]))
    filter_form = RunFilterForm(data)
    filter_form.is_valid()
    return filter_form.run_filter()


@operator_page
def preview(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.GET)
    if not form.is_valid():
        return render_page(request, "dashboard/bulk.html", {"form": form, "invalid": True})
    action = form.cleaned_data["action"]
    run_filter = _target(form, request.GET)
    breakdown = bulk.breakdown(action, run_filter)
    total = sum(breakdown.values())
    context = {
        "form": form,
        "action": action,
        "past": bulk.PAST[action],
        "scope": form.cleaned_data["scope"],
        "breakdown": sorted(breakdown.items()),
        "total": total,
        "eligible": bulk.eligible_count(action, breakdown),
        "eligible_statuses": bulk.ELIGIBLE[action],
        "run_ids": form.cleaned_data["run_ids"],
        "params": filter_params(run_filter) if not run_filter.ids else {},
        "as_of": timezone.now().isoformat(),
        "token": uuid.uuid4(),
    }
    context["refused"] = total - context["eligible"]
    if action == "restart":  # already restarted or forked: skipped unless ticked
        context["superseded"] = superseded_count(run_filter)
        context["eligible"] -= context["superseded"]
    context["replay_preview"] = debug.bulk_preview_lines(action, run_filter, bulk.ELIGIBLE[action])
    context["dry_run"] = bulk.dry_run_lines(action, run_filter)
    return render_page(request, "dashboard/bulk.html", context)


@operator_required
def run_batch(request: HttpRequest) -> HttpResponse:
    """Start the bulk job of the preview's form; the page then polls its progress."""
    form = BulkStartForm(request.POST)
    if not form.is_valid():
        return bad_request(form.errors.as_text())
    cleaned = form.cleaned_data
    run_filter = _target(form, request.POST)
    matching = cleaned["scope"] == "matching"
    run_ids = bulk.matching_ids(run_filter, cleaned["as_of"]) if matching else cleaned["run_ids"]
    selection = {"filter": filter_params(run_filter)} if matching else {"ticked": len(run_ids)}
    try:
        job = bulk.start(
            request.user.get_username(), cleaned["token"], list(run_ids),
            action=cleaned["action"], reason=cleaned["reason"], as_of=cleaned["as_of"],
            include_superseded=cleaned["include_superseded"] and cleaned["action"] == "restart",
            selection=selection, **form.job_options(),
        )  # fmt: skip
    except RequestIdConflictError as exc:  # its words name the form's internal request id
        return bad_request(
            f"This preview already started a bulk {exc.action} job ({exc.job_id}); nothing "
            f"else was started. To {cleaned['action']} these runs, preview again and confirm."
        )
    except DurableError as exc:
        return bad_request(str(exc))
    return render_job(request, job)
