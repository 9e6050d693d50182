"""System health: the /health checks, live executors and what they serve, due runs no
executor takes (drained, unserved, held by a full queue limit) each with the button that
fixes it, and cron schedules."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from dashboard.permissions import viewer_required
from dashboard.queries import system
from dashboard.views.common import render_page
from durable import operations, queues
from durable.observability import inspection

LIMITS = ("concurrency", "rate_limit")


@viewer_required
def system_health(request: HttpRequest) -> HttpResponse:
    health = inspection.health_report()
    stranded = inspection.untaken_runs()
    run_ids = [run_id for group in stranded if group.forkable for run_id in group.run_ids]
    points = operations.fork_points(run_ids) if run_ids else {}
    context = {
        "healthy": health.healthy,
        "status": health.status,
        "checks": health.checks,
        "executors": system.live_executors(),
        "stranded": [
            {
                "group": group,
                "runs": [(run_id, points.get(run_id, 0)) for run_id in group.run_ids],
                "limits": queues.stored_limits(group.queue) if group.cause in LIMITS else None,
            }
            for group in stranded
        ],
        "schedules": system.schedules(),
        "seen": timezone.now().isoformat(),  # a trigger form sent twice starts one run
    }
    return render_page(request, "dashboard/system.html", context, partial="live")
