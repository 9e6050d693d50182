"""One run: timeline, steps with inputs/outputs/errors, lineage, audit and actions."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from dashboard import charts
from dashboard.permissions import viewer_required
from dashboard.queries import detail
from dashboard.views.common import render_page


@viewer_required
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    history = detail.run_history(run_id) if _addressable(run_id) else None
    if history is None:
        raise Http404(f"No run with id {run_id!r}.")
    run = history.run
    bars = charts.timeline_bars(run, history.steps, history.attempts)
    context = {
        "run": run,
        "steps": history.steps,
        "attempts": history.attempts_by_position(),
        "timeline": charts.gantt(bars),
        "lineage": detail.lineage(run),
        "audit": detail.run_audit(run.id),
        "live": run.status in ("ENQUEUED", "RUNNING"),
        "next_position": len(history.steps),
        "input_json": json.dumps(_fork_input(run.input), indent=2),
        "seen": timezone.now().isoformat(),  # actions refuse what others did after this
    }
    return render_page(request, "dashboard/run_detail.html", context, partial="live")


def _addressable(run_id: str) -> bool:
    """Ids no run can have (NUL, newlines, over 200 characters) are looked up nowhere."""
    return len(run_id) <= 200 and run_id.isprintable()


def _fork_input(run_input: object) -> dict:
    """The editable part of a run's input: its args and kwargs."""
    value = run_input if isinstance(run_input, dict) else {}
    return {"args": value.get("args", []), "kwargs": value.get("kwargs", {})}
