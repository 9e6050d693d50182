"""Failure hotspots: failures grouped by workflow, step, error type and fingerprint, with
their triage (owner, acknowledgement, mute, ticket, notes), filterable by it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.html import format_html

from dashboard import charts
from dashboard.alert_forms import TriageFilterForm, TriageForm
from dashboard.forms import WINDOW_CHOICES, WINDOWS
from dashboard.permissions import operator_required, viewer_required
from dashboard.queries import hotspots as queries
from dashboard.views.common import render_page
from durable.observability import alerting


class HotspotForm(forms.Form):
    window = forms.ChoiceField(choices=WINDOW_CHOICES, required=False)


@viewer_required
def hotspots(request: HttpRequest) -> HttpResponse:
    form = HotspotForm(request.GET)
    form.is_valid()
    window_key = form.cleaned_data.get("window") or "24h"
    triage_filter = TriageFilterForm(request.GET)
    triage_filter.is_valid()
    which = triage_filter.cleaned_data.get("triage") or ""
    since, until = queries.window_bounds(WINDOWS[window_key])
    groups = queries.hotspots(since, until)
    _add_triage(groups)
    groups = [g for g in groups if _shown(g, which, request.user.get_username())]
    for group in groups:
        group["sparkline"] = charts.sparkline(group["trend"] or [])
        group["peak"] = max(group["trend"] or [0])
        group["bucket_label"] = charts.human_ms(group["bucket"].total_seconds() * 1000)
    context = {
        "groups": groups,
        "window": window_key,
        "windows": WINDOW_CHOICES,
        "since": since,
        "triage_filter": which,
        "triage_filters": TriageFilterForm.base_fields["triage"].choices,
    }
    return render_page(request, "dashboard/hotspots.html", context)


def _add_triage(groups: list[dict]) -> None:
    rows = alerting.triage.triage_for(groups)
    now = timezone.now()
    for g in groups:
        t = rows.get((g["workflow"], g["name"], g["error_type"], g["error_fingerprint"]))
        g["triage"] = t
        g["muted"] = bool(t and ((t.muted_until and t.muted_until > now) or t.muted_until_version))


def _shown(group: dict, which: str, username: str) -> bool:
    owner = group["triage"].owner if group["triage"] else ""
    if which == "unowned":
        return not owner
    if which == "mine":
        return owner == username
    if which == "muted":
        return group["muted"]
    return True


@operator_required
def triage(request: HttpRequest) -> HttpResponse:
    """Save one group's triage (audited as the user); back to the Failures page."""
    form = TriageForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for error_list in form.errors.values() for e in error_list)
        messages.error(request, format_html("Nothing changed: {}", errors))
        return redirect("dashboard:hotspots")
    alerting.triage.update(form.group(), form.changes(), actor=request.user.get_username())
    messages.success(request, format_html("Triage of {} saved.", form.cleaned_data["workflow"]))
    if form.cleaned_data["incident"]:
        return redirect("dashboard:alert_incident", incident_id=form.cleaned_data["incident"])
    return redirect("dashboard:hotspots")
