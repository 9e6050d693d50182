"""Latency: p50/p95/p99 per workflow and per step, queue wait apart, and a trend chart."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from dashboard import charts, rollups
from dashboard.forms import WINDOW_CHOICES, WINDOWS
from dashboard.permissions import viewer_required
from dashboard.queries import checkpoint_sizes, latency_rollups
from dashboard.queries import latency as exact
from dashboard.views.common import render_page
from durable.observability import inspection


class LatencyForm(forms.Form):
    window = forms.ChoiceField(choices=WINDOW_CHOICES, required=False)
    workflow = forms.CharField(required=False, max_length=300)


EXACT_UP_TO = timedelta(days=1)
# step percentiles sort every checkpoint of the window: beyond this they come from the
# hourly histograms plus the rows not rolled up yet (a day at 1M runs a month is ~330,000
# checkpoints, most of the 24 h page's time when sorted)
STEPS_EXACT_UP_TO = timedelta(hours=6)


def _window(form: LatencyForm) -> tuple[str, datetime, datetime, bool]:
    window_key = form.cleaned_data.get("window") or "24h"
    until = timezone.now()
    return window_key, until - WINDOWS[window_key], until, WINDOWS[window_key] > EXACT_UP_TO


@viewer_required
def latency(request: HttpRequest) -> HttpResponse:
    form = LatencyForm(request.GET)
    form.is_valid()
    window_key, since, until, approximate = _window(form)
    workflow = form.cleaned_data.get("workflow") or ""
    steps_bucketed = not approximate and WINDOWS[window_key] > STEPS_EXACT_UP_TO
    if approximate or steps_bucketed:
        with inspection.primary_reads():  # it writes what it reads: never from a replica
            rollups.refresh()
    queries = latency_rollups if approximate else exact
    workflows = queries.workflow_latency(since, until)
    trend = queries.latency_over_time(since, until, workflow)
    names = exact.workflow_step_names(workflow) if workflow else None
    if steps_bucketed:
        steps = latency_rollups.step_latency(since, until, names, unrolled=True)
    else:
        steps = queries.step_latency(since, until, names)
    sizes = checkpoint_sizes.step_sizes(since, until)
    busiest = [row["name"] for row in sorted(steps, key=lambda row: -row["count"])][:STEP_CHARTS]
    context = {
        "form": form,
        "approximate": approximate,
        "steps_bucketed": steps_bucketed,
        "window": window_key,
        "workflow": workflow,
        "workflows": workflows,
        "steps": steps,
        "checkpoint_sizes": sizes,
        "sizes_newest": None if checkpoint_sizes.read_all(sizes) else checkpoint_sizes.NEWEST,
        "windows": WINDOW_CHOICES,
        "chart": charts.latency_over_time(
            trend, f"Run active time, {workflow or 'all workflows'}, last {window_key}"
        ),
        "step_query": urlencode({"window": window_key, "step": busiest}, doseq=True),
    }
    return render_page(request, "dashboard/latency.html", context)


STEP_CHARTS = 6


@viewer_required
def step_charts(request: HttpRequest) -> HttpResponse:
    """A small chart over time per step named in `step` (the page's busiest steps), loaded
    after the page so its tables are not held up by one more pass over the window."""
    form = LatencyForm(request.GET)
    form.is_valid()
    _, since, until, approximate = _window(form)
    queries = latency_rollups if approximate else exact
    names = [name[:300] for name in request.GET.getlist("step")[:STEP_CHARTS]]
    series = queries.step_over_time(since, until, names)
    figures = [
        (name, charts.latency_over_time(series[name], name.rsplit(".", 1)[-1], height=200))
        for name in names
        if name in series
    ]
    return render(request, "dashboard/latency.html#step_charts", {"step_charts": figures})
