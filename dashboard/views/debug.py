"""Debugging pages: edit a recorded output and continue, compare runs, whole values.

Thin over `durable.debugging`: each view parses a form, calls one function, renders.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.html import format_html

from dashboard import idempotency
from dashboard.debug_forms import CompareForm, PatchForm
from dashboard.permissions import can_operate, operator_required, viewer_required
from dashboard.queries.runs import RunFilter, filtered_runs
from dashboard.views.actions import act
from dashboard.views.common import render_page
from durable import operations
from durable.debugging import compare as comparing
from durable.debugging import preview, values
from durable.errors import DurableError, InvalidArgumentError, InvalidPatchError
from durable.models import Run, Step


@viewer_required
def patch_page(request: HttpRequest, position: int, run_id: str) -> HttpResponse:
    if not can_operate(request.user):
        raise PermissionDenied("You need the 'operate runs' permission.")
    step = Step.objects.of_runs([run_id]).filter(position=position).select_related("run").first()
    if step is None:
        raise Http404(f"Run {run_id!r} has no recorded step {position}.")
    initial = {"run_id": run_id, "position": position, "output": _editable(step),
               "seen": timezone.now().isoformat()}  # fmt: skip
    form = PatchForm(initial=initial)
    return _render_patch(request, step, form)


def _editable(step: Step) -> str:
    return json.dumps(step.output if step.status == "SUCCESS" else None, indent=2)


def _render_patch(
    request: HttpRequest, step: Step, form: PatchForm, status: int = 200
) -> HttpResponse:
    try:
        repeats = preview.preview("fork", step.run_id, from_step=step.position + 1).runs[0].steps
    except DurableError as exc:  # e.g. the step after it failed and ended the run
        repeats = []
        messages.error(request, f"No fork can start after this step: {exc}")
    context = {"step": step, "run": step.run, "form": form, "repeats": repeats}
    response = render_page(request, "dashboard/debug_patch.html", context)
    response.status_code = status
    return response


@operator_required
def patch(request: HttpRequest) -> HttpResponse:
    """Fork from the step after the edited one, with the edited output in its place."""
    form = PatchForm(request.POST)
    if not form.is_valid():
        step = (
            Step.objects.of_runs([request.POST.get("run_id", "")[:200]])
            .filter(position=form.cleaned_data.get("position", -1))
            .first()
        )
        if step is None:
            messages.error(request, "Nothing changed: choose a recorded step to edit.")
            return redirect("dashboard:runs")
        return _render_patch(request, step, form, status=400)
    data = form.cleaned_data
    run_id, position = data["run_id"], data["position"]
    parts = [run_id, str(position), form.data.get("output", "")]
    request_id = idempotency.request_id(request, "fork", parts, data["seen"])

    def refused_output(exc: InvalidArgumentError) -> HttpResponse:
        """The engine refused the output (too large to store): say so at it, keep the text."""
        if not isinstance(exc, InvalidPatchError):  # not about the output: said as act says it
            messages.error(request, format_html("Nothing changed: {}", str(exc)))
            return redirect("dashboard:run", run_id=run_id)
        words = str(exc).removeprefix(f"{exc.argument}: ")
        form.add_error("output", f"Nothing changed: {words}")
        step = Step.objects.of_runs([run_id]).filter(position=position).select_related("run")
        return _render_patch(request, get_object_or_404(step), form, status=400)

    return act(
        request,
        run_id,
        lambda: operations.fork(
            [run_id], from_step=position + 1, patch={position: data["output"]},
            request_id=request_id, unless_derived_since=data["seen"],
        ),
        f"Forked {{old}} as new run {{new}} with the output of step {position} edited; "
        f"it continues from step {position + 1}.",
        bad_argument=refused_output,
    )  # fmt: skip


@viewer_required
def compare(request: HttpRequest, run_id: str) -> HttpResponse:
    form = CompareForm(request.GET)
    other = form.cleaned_data["other"].strip() if form.is_valid() else ""
    context: dict = {"run_id": run_id, "form": form}
    try:
        context["comparison"] = comparing.compare_runs(run_id, other or None)
    except DurableError as exc:
        context["problem"] = str(exc)
    return render_page(request, "dashboard/debug_compare.html", context)


@viewer_required
def value(request: HttpRequest, which: str, run_id: str) -> HttpResponse:
    """One recorded value whole, as JSON: the tree viewer's source and the download link."""
    found, recorded = values.recorded_value(run_id, which)
    if not found:
        raise Http404(f"Run {run_id!r} has no value {which!r}.")
    response = JsonResponse(recorded, safe=False, json_dumps_params={"ensure_ascii": False})
    if request.GET.get("download"):
        filename = f"{run_id}-{which}.json".replace("/", "_").replace('"', "")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def run_page_context(run: Run) -> dict:
    """What the run page shows of these tools: the named input and the action previews."""
    restart = preview.preview("restart", run.id)
    return {
        # an input too large for the run page stays deferred there: shown as its preview
        "named_input": None
        if "input" in run.get_deferred_fields()
        else values.run_input_named(run),
        "resume_preview": preview.preview("resume", run.id).lines(),
        "restart_preview": restart.lines(),
        "fork_risks": [step for step in restart.runs[0].steps if step.flagged],
    }


PREVIEW_CAP = 10_000  # runs looked at by a bulk preview; beyond that the page says so
# runs whose recorded steps the page reads: the rest of the selection is estimated from
# them, so the preview costs the same for 3,000 runs as for 10,000
PREVIEW_SAMPLE = 500


def bulk_preview_lines(action: str, run_filter: RunFilter, eligible: tuple[str, ...]) -> list[str]:
    """The aggregated replay preview of a bulk resume or restart ("412 runs will run
    charge_payment again; it is not idempotent"), over the runs the action would change:
    an even sample of them when there are more than PREVIEW_SAMPLE ("about 412 runs")."""
    if action not in preview.ACTIONS:
        return []
    runs = filtered_runs(run_filter).filter(status__in=eligible).order_by()
    ids = list(runs.values_list("id", flat=True)[: PREVIEW_CAP + 1])
    pool = ids[:PREVIEW_CAP]
    sample = pool[:: max(1, -(-len(pool) // PREVIEW_SAMPLE))][:PREVIEW_SAMPLE]
    lines = preview.preview(action, sample).lines(population=len(pool))
    if len(ids) > PREVIEW_CAP:
        lines.append(f"(previewed the first {PREVIEW_CAP:,} runs only)")
    return lines
