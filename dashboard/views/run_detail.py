"""One run: timeline, steps with inputs/outputs/errors, lineage, audit and actions."""

from __future__ import annotations

import json
import re

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from dashboard import charts
from dashboard.permissions import viewer_required
from dashboard.queries import detail
from dashboard.templatetags.dashboard_tags import truncated
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
        "input_json": _editable_input(run),
        "seen": timezone.now().isoformat(),  # actions refuse what others did after this
    }
    return render_page(request, "dashboard/run_detail.html", context, partial="live")


def _addressable(run_id: str) -> bool:
    """Ids no run can have (NUL, newlines, over 200 characters) are looked up nowhere."""
    return len(run_id) <= 200 and run_id.isprintable()


def _editable_input(run) -> str:
    """The editable part of a run's input (its args and kwargs) as JSON text; empty when
    the input is over the preview size (forking then keeps the recorded input)."""
    if truncated(run, "input"):
        return ""
    value = json.loads(run.input_preview or "{}")
    value = value if isinstance(value, dict) else {}
    return json.dumps({"args": value.get("args", []), "kwargs": value.get("kwargs", {})}, indent=2)


FIELDS = ("input", "output")


@viewer_required
def run_value(
    request: HttpRequest, run_id: str, field: str, position: int | None = None
) -> StreamingHttpResponse:
    """One whole input or output, downloaded as a JSON file in chunks."""
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
