"""Bulk actions: a preview that counts what each action would touch, then batched execution."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from dashboard import bulk
from dashboard.forms import BulkForm, BulkStartForm, BulkStepForm, RunFilterForm, filter_params
from dashboard.models import BulkJob
from dashboard.permissions import operator_page, operator_required
from dashboard.queries.runs import RunFilter, status_breakdown, superseded_count
from dashboard.views import debug
from dashboard.views.common import bad_request, render_page


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
    breakdown = status_breakdown(run_filter)
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
    return render_page(request, "dashboard/bulk.html", context)


@operator_required
def run_batch(request: HttpRequest) -> HttpResponse:
    """Start a job from the preview's form, or run the next batch of `job`."""
    owner = request.user.get_username()
    if "job" in request.POST:
        step = BulkStepForm(request.POST)
        if not step.is_valid():
            return bad_request("job must be the id of a bulk job.")
        job = bulk.advance(step.cleaned_data["job"], owner)
    else:
        form = BulkStartForm(request.POST)
        if not form.is_valid():
            return bad_request(form.errors.as_text())
        job = bulk.advance(_start(form, request.POST, owner).id, owner)
    if job is None:
        return bad_request("No such bulk job of yours: start it again from the runs.")
    context = {"job": job, "past": bulk.PAST[job.action], "finished": job.finished}
    return render_page(request, "dashboard/bulk.html", context, partial="progress")


def _start(form: BulkStartForm, data, owner: str) -> BulkJob:
    cleaned = form.cleaned_data
    run_filter = _target(form, data)
    return bulk.start_job(
        cleaned["token"] or uuid.uuid4(),
        owner,
        action=cleaned["action"],
        scope=cleaned["scope"],
        run_ids=list(cleaned["run_ids"]) if cleaned["scope"] == "selected" else [],
        params=filter_params(run_filter) if cleaned["scope"] == "matching" else {},
        as_of=cleaned["as_of"],
        reason=cleaned["reason"],
        total=cleaned["total"],
        include_superseded=cleaned["include_superseded"] and cleaned["action"] == "restart",
    )
