"""Failure hotspots: failures grouped by workflow, step, error type and fingerprint."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse

from dashboard import charts
from dashboard.forms import WINDOW_CHOICES, WINDOWS
from dashboard.permissions import viewer_required
from dashboard.queries import hotspots as queries
from dashboard.views.common import render_page


class HotspotForm(forms.Form):
    window = forms.ChoiceField(choices=WINDOW_CHOICES, required=False)


@viewer_required
def hotspots(request: HttpRequest) -> HttpResponse:
    form = HotspotForm(request.GET)
    form.is_valid()
    window_key = form.cleaned_data.get("window") or "24h"
    since, until = queries.window_bounds(WINDOWS[window_key])
    groups = queries.hotspots(since, until)
    for group in groups:
        group["sparkline"] = charts.sparkline(group["trend"] or [])
        group["peak"] = max(group["trend"] or [0])
        group["bucket_label"] = charts.human_ms(group["bucket"].total_seconds() * 1000)
    context = {"groups": groups, "window": window_key, "windows": WINDOW_CHOICES, "since": since}
    return render_page(request, "dashboard/hotspots.html", context)
