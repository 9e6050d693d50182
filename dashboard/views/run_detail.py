"""One run: timeline, steps with inputs/outputs/errors, lineage, audit and actions."""

from __future__ import annotations

import inspect
import json

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from dashboard import charts
from dashboard.permissions import viewer_required
from dashboard.queries import detail, waiting
from dashboard.views import debug
from dashboard.views.common import render_page
from durable import durations, operations, registry
from durable.models import RunStatus


@viewer_required
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    history = detail.run_history(run_id)
    if history is None:
        raise Http404(f"No run with id {run_id!r}.")
    run = history.run
    audit = detail.run_audit(run.id)
    bars = charts.timeline_bars(run, history.steps, history.attempts)
    lineage = detail.lineage(run)
    context = {
        "run": run,
        "steps": history.steps,
        "attempts": history.attempts_by_position(),
        "unrecorded": sorted(history.unrecorded_attempts().items()),
        "timeline": charts.gantt(bars, charts.timeline_markers(run, audit)),
        "time": durations.split(run, history.steps, history.attempts, timezone.now()),
        "waiting": waiting.reasons([run]).get(run.id, ""),
        "superseded_by": detail.superseded_by(run, lineage["forks"]),
        "lineage": lineage,
        "audit": audit,
        "live": run.status in ("ENQUEUED", "RUNNING"),
        "next_position": len(history.steps),
        "input_json": json.dumps(_fork_input(run.input), indent=2),
        # a resume nobody could pick up: say why and offer a fork onto the current code
        "resume_blocker": operations.resume_blocker(run.id)
        if run.status in RunStatus.resumable()
        else None,
        "parameters": _parameters(run),
        **debug.run_page_context(run),
    }
    return render_page(request, "dashboard/run_detail.html", context, partial="live")


def _fork_input(run_input: object) -> dict:
    """The editable part of a run's input: its args and kwargs."""
    value = run_input if isinstance(run_input, dict) else {}
    return {"args": value.get("args", []), "kwargs": value.get("kwargs", {})}


def _parameters(run) -> list[dict]:
    """The workflow's parameter names next to the recorded values, so an operator editing
    the input for a fork or restart knows what `args[1]` is."""
    registry.autodiscover()
    if not registry.is_registered(run.workflow):
        return []
    try:
        names = list(inspect.signature(registry.get_workflow(run.workflow).func).parameters)
    except (TypeError, ValueError):
        return []
    value = _fork_input(run.input)
    given = dict(zip(names, value["args"], strict=False)) | value["kwargs"]
    return [
        {"name": name, "value": json.dumps(given[name]) if name in given else "(default)"}
        for name in names
    ]
