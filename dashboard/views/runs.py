"""The runs list: filters, search, status counts, keyset pages and a live-refreshing table."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from dashboard.forms import RunFilterForm
from dashboard.permissions import viewer_required
from dashboard.queries import runs as queries
from dashboard.queries import waiting
from dashboard.views.common import render_page


@viewer_required
def runs_list(request: HttpRequest) -> HttpResponse:
    form = RunFilterForm(request.GET)
    form.is_valid()
    run_filter = form.run_filter()
    cursor = queries.Cursor.decode(request.GET.get("cursor", ""))
    page = queries.runs_page(run_filter, cursor)
    query = request.GET.copy()
    query.pop("cursor", None)
    without_fingerprint = query.copy()
    without_fingerprint.pop("fingerprint", None)
    base_query = query.copy()
    base_query.pop("status", None)
    counts = queries.status_counts(run_filter)
    all_statuses = min(sum(counts.values()), run_filter.count_cap())
    context = {
        "form": form,
        "page": page,
        "counts": counts,
        "total": all_statuses,
        # what "all matching" acts on: the status tab is part of the filter
        "matching": counts.get(run_filter.status, 0) if run_filter.status else all_statuses,
        "waiting": waiting.reasons(page.rows),
        "base_query": base_query.urlencode(),
        "count_cap": run_filter.count_cap(),
        "status": run_filter.status,
        "query": query.urlencode(),
        "without_fingerprint": without_fingerprint.urlencode(),
        "filtered": form.is_filtered(),
        "workflows": queries.workflow_names(),
        "cursor": request.GET.get("cursor", ""),
        "short_search": run_filter.q
        if run_filter.q and not queries.searchable(run_filter.q)
        else "",
    }
    return render_page(request, "dashboard/runs.html", context, partial="results")
