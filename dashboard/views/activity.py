"""The audit log and the workers page."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse

from dashboard.permissions import viewer_required
from dashboard.queries import activity
from dashboard.views.common import render_page


class AuditForm(forms.Form):
    actor = forms.CharField(required=False, max_length=200)
    action = forms.CharField(required=False, max_length=40)
    run = forms.CharField(required=False, max_length=200)
    before = forms.IntegerField(required=False, min_value=1)


@viewer_required
def audit(request: HttpRequest) -> HttpResponse:
    form = AuditForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    entries = activity.audit_entries(
        data.get("actor") or "", data.get("action") or "", data.get("run") or "", data.get("before")
    )
    more = len(entries) > activity.AUDIT_PAGE
    entries = entries[: activity.AUDIT_PAGE]
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form,
        "entries": entries,
        "query": query.urlencode(),
        "before": entries[-1].id if more and entries else None,
    }
    return render_page(request, "dashboard/audit.html", context)


@viewer_required
def workers(request: HttpRequest) -> HttpResponse:
    context = {
        "executors": activity.executors(),
        "queues": activity.queue_depths(),
        "stored_queues": activity.stored_queues(),
    }
    return render_page(request, "dashboard/workers.html", context, partial="live")
