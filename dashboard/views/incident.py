"""The incident view of one failure group, linked from each group on the Failures page."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpRequest, HttpResponse

from dashboard.forms import WINDOW_CHOICES, WINDOWS
from dashboard.permissions import viewer_required
from dashboard.queries import hotspots
from dashboard.queries import incident as queries
from dashboard.views.common import render_page


class GroupForm(forms.Form):
    """A failure group's key as the Failures page links it (lengths of the columns)."""

    workflow = forms.CharField(max_length=300)
    step = forms.CharField(max_length=300)
    error_type = forms.CharField(max_length=300)
    fingerprint = forms.CharField(max_length=64, required=False)
    window = forms.ChoiceField(choices=WINDOW_CHOICES, required=False)


@viewer_required
def failure_group(request: HttpRequest) -> HttpResponse:
    form = GroupForm(request.GET)
    if not form.is_valid():
        raise Http404("No such failure group: the link is incomplete or malformed.")
    data = form.cleaned_data
    window = data["window"] or "7d"
    key = queries.GroupKey(data["workflow"], data["step"], data["error_type"], data["fingerprint"])
    since, until = hotspots.window_bounds(WINDOWS[window])
    group = queries.incident(key, since, until)
    if group is None:
        raise Http404(f"No failures of this group in the last {window}.")
    return render_page(request, "dashboard/incident.html", {"g": group, "window": window})
