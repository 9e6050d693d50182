"""Bulk actions: a preview that counts what each action would touch, then batched execution."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import timezone

from dashboard import bulk
from dashboard.forms import BulkForm, BulkProgressForm, RunFilterForm, filter_params
from dashboard.permissions import operator_page, operator_required
from dashboard.queries.runs import Cursor, RunFilter, status_breakdown
from dashboard.views import debug
from dashboard.views.common import render_page


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
    }
    context["refused"] = total - context["eligible"]
    context["replay_preview"] = debug.bulk_preview_lines(action, run_filter, bulk.ELIGIBLE[action])
    return render_page(request, "dashboard/bulk.html", context)


@operator_required
def run_batch(request: HttpRequest) -> HttpResponse:
    form = BulkProgressForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    data = form.cleaned_data
    job = bulk.Job(
        action=data["action"],
        total=data["total"],
        done=data["done"] or 0,
        refused=data["refused"] or {},
        results=data["results"] or {},
    )
    run_ids, offset, cursor, finished = _next_batch(form, request.POST)
    if run_ids:
        job.record(bulk.apply(job.action, run_ids, request.user.get_username(), data["reason"]))
    context = {
        "job": job,
        "past": bulk.PAST[job.action],
        "finished": finished,
        "state": form.cleaned_data,
        "offset": offset,
        "cursor": cursor.encode() if cursor else "",
        "params": filter_params(_target(form, request.POST)) if data["scope"] == "matching" else {},
    }
    return render_page(request, "dashboard/bulk.html", context, partial="progress")


def _next_batch(form: BulkProgressForm, data) -> tuple[list[str], int, Cursor | None, bool]:
    """The ids to act on now, where to continue, and whether this is the last batch."""
    cleaned = form.cleaned_data
    if cleaned["scope"] == "selected":
        offset = cleaned["offset"] or 0
        run_ids = cleaned["run_ids"][offset : offset + bulk.BATCH]
        offset += len(run_ids)
        return run_ids, offset, None, offset >= len(cleaned["run_ids"])
    cursor = Cursor.decode(cleaned["cursor"] or "")
    run_ids, cursor = bulk.next_matching(_target(form, data), cleaned["as_of"], cursor)
    return run_ids, 0, cursor, len(run_ids) < bulk.BATCH
