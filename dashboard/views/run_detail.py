"""One run: timeline, steps with inputs/outputs/errors, lineage, audit and actions."""

from __future__ import annotations

import json
import re

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from dashboard import charts
from dashboard.permissions import viewer_required
from dashboard.queries import detail, line, published, waiting
from dashboard.templatetags.dashboard_tags import truncated
from dashboard.views import debug
from dashboard.views.common import render_page
from durable import operations
from durable.debugging import step_logs
from durable.models import RunStatus
from durable.observability import inspection


@viewer_required
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    history = detail.run_history(run_id) if _addressable(run_id) else None
    if history is None:
        raise Http404(f"No run with id {run_id!r}.")
    run = history.run
    _whole_small_values([run, *history.steps])
    audit = detail.run_audit(run.id)
    bars = charts.timeline_bars(run, history.steps, history.attempts)
    lineage = detail.lineage(run)
    context = {
        "run": run,
        "steps": history.steps,
        "attempts": history.attempts_by_position(),
        "unrecorded": sorted(history.unrecorded_attempts().items()),
        "timeline": charts.gantt(bars, charts.timeline_markers(run, audit)),
        "time": inspection.time_split(run, history.steps, history.attempts, timezone.now()),
        "waiting": waiting.reasons([run]).get(run.id, ""),
        "line": line.line(run),
        "superseded_by": detail.superseded_by(run, lineage["forks"]),
        "lineage": lineage,
        "audit": audit,
        # why it was recovered or went DEAD: each death of an owner (no query for the others)
        "deaths": operations.run_deaths(run.id)
        if run.recovery_count or run.status == RunStatus.DEAD
        else [],
        "live": run.status in ("ENQUEUED", "RUNNING"),
        "next_position": len(history.steps),
        "input_json": _editable_input(run),
        "seen": timezone.now().isoformat(),  # actions refuse what others did after this
        # a resume nobody could pick up: say why and offer a fork onto the current code
        "resume_blocker": operations.resume_blocker(run.id)
        if run.status in RunStatus.resumable()
        else None,
        "parameters": _parameters(run),
        "events": published.run_events(run.id),
        "step_logs": detail.step_logs(run),
        "logs_url": step_logs.external_url(run),
        "streams": published.run_streams(run.id),
        **debug.run_page_context(run),
    }
    return render_page(request, "dashboard/run_detail.html", context, partial="live")


def _fork_input(run_input: object) -> dict:
    """The editable part of a run's input: its args and kwargs."""
    value = run_input if isinstance(run_input, dict) else {}
    return {"args": value.get("args", []), "kwargs": value.get("kwargs", {})}


def _whole_small_values(rows) -> None:
    """Inputs and outputs that fit in their preview are whole: set them on the rows, so the
    page (named inputs, parameters, value tools) never loads a deferred column; larger
    ones stay deferred and the page shows their previews."""
    for row in rows:
        for field in FIELDS:
            if not truncated(row, field):
                preview = getattr(row, f"{field}_preview")
                setattr(row, field, None if preview is None else json.loads(preview))


def _parameters(run) -> list[dict]:
    """The workflow's parameter names next to the recorded values, so an operator editing
    the input for a fork or restart knows what `args[1]` is (not for inputs too large to
    show: the page holds only their preview)."""
    names = None if truncated(run, "input") else inspection.workflow_parameters(run.workflow)
    if names is None:
        return []
    value = _fork_input(run.input)
    given = dict(zip(names, value["args"], strict=False)) | value["kwargs"]
    return [
        {"name": name, "value": json.dumps(given[name]) if name in given else "(default)"}
        for name in names
    ]


def _addressable(run_id: str) -> bool:
    """Ids no run can have (NUL, newlines, over 200 characters) are looked up nowhere."""
    return len(run_id) <= 200 and run_id.isprintable()


def _editable_input(run) -> str:
    """The editable part of a run's input (its args and kwargs) as JSON text; empty when
    the input is over the preview size (forking then keeps the recorded input)."""
    if truncated(run, "input"):
        return ""
    value = json.loads(run.input_preview or "{}")
    return json.dumps(_fork_input(value), indent=2)


FIELDS = ("input", "output")


@viewer_required
def run_value(
    request: HttpRequest, run_id: str, field: str, position: int | None = None
) -> StreamingHttpResponse:
    """One whole input or output, downloaded as a JSON file in chunks (the run page's link
    for values over the preview size; `debug.value` serves the JSON tree viewer)."""
    text = detail.full_value(run_id, field, position) if field in FIELDS else None
    if text is None or not _addressable(run_id):
        raise Http404("No such value.")
    chunks = (text[start : start + CHUNK] for start in range(0, len(text), CHUNK))
    response = StreamingHttpResponse(chunks, content_type="application/json")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)[:80]
    where = "" if position is None else f"-step-{position}"
    response["Content-Disposition"] = f'attachment; filename="{name}{where}-{field}.json"'
    return response


CHUNK = 256 * 1024
