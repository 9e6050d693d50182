"""Latency: p50/p95/p99 per workflow and per step, queue wait apart, and a trend chart."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from dashboard import charts, rollups
from dashboard.forms import WINDOW_CHOICES, WINDOWS
from dashboard.permissions import viewer_required
from dashboard.queries import checkpoint_sizes, latency_rollups
from dashboard.queries import latency as exact
from dashboard.views.common import render_page


class LatencyForm(forms.Form):
    window = forms.ChoiceField(choices=WINDOW_CHOICES, required=False)
    workflow = forms.CharField(required=False, max_length=300)


EXACT_UP_TO = timedelta(days=1)


@viewer_required
def latency(request: HttpRequest) -> HttpResponse:
    form = LatencyForm(request.GET)
    form.is_valid()
    window_key = form.cleaned_data.get("window") or "24h"
    workflow = form.cleaned_data.get("workflow") or ""
    until = timezone.now()
    since = until - WINDOWS[window_key]
    approximate = WINDOWS[window_key] > EXACT_UP_TO
    if approximate:
        rollups.refresh()
    queries = latency_rollups if approximate else exact
    workflows = queries.workflow_latency(since, until)
    trend = queries.latency_over_time(since, until, workflow)
    context = {
        "form": form,
        "approximate": approximate,
        "window": window_key,
        "workflow": workflow,
        "workflows": workflows,
        "steps": queries.step_latency(since, until),
        "checkpoint_sizes": checkpoint_sizes.step_sizes(since, until),
        "windows": WINDOW_CHOICES,
        "chart": charts.latency_over_time(
            trend, f"Run execution time, {workflow or 'all workflows'}, last {window_key}"
        ),
    }
    return render_page(request, "dashboard/latency.html", context)
