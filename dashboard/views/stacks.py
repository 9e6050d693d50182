""" "Where is it now?": ask a running run's owner for its live stack, then poll for the answer.

Thin over `durable.debugging.stacks`. Viewers see files, lines and functions; only operators
see local variables (bounded and redacted by the engine).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from dashboard.permissions import can_operate, viewer_required
from durable.core.conf import settings
from durable.debugging import stacks
from durable.errors import DurableError

POLL_SECONDS = 0.5
TEMPLATE = "dashboard/_stack.html"


@require_POST
@viewer_required
def ask(request: HttpRequest) -> HttpResponse:
    run_id = request.POST.get("run_id", "")[:300]
    include_locals = can_operate(request.user) and request.POST.get("locals") == "on"
    try:
        request_id = stacks.ask(run_id, include_locals=include_locals,
                                requested_by=request.user.get_username())  # fmt: skip
    except DurableError as exc:
        return _render(request, {"problem": str(exc)}, status=400)
    context = {"run_id": run_id, "request_id": request_id, "tries": 0, "locals": include_locals}
    return _render(request, context)


@viewer_required
def answer(request: HttpRequest) -> HttpResponse:
    run_id = request.GET.get("run_id", "")[:300]
    try:
        request_id, tries = int(request.GET.get("request", "")), int(request.GET.get("tries", ""))
    except ValueError:
        request_id = tries = -1
    if not (0 < request_id < 2**63 and 0 <= tries < 10_000):
        return _render(request, {"problem": "request and tries must be whole numbers"}, 400)
    include_locals = can_operate(request.user) and request.GET.get("locals") == "1"
    found = stacks.answer(run_id, request_id, include_locals=include_locals)
    if found is None:
        if tries * POLL_SECONDS >= settings.DURABLE_STACK_TIMEOUT_SECONDS:
            problem = (f"run {run_id}: its owner did not answer within "
                       f"{settings.DURABLE_STACK_TIMEOUT_SECONDS:g}s; it may be busy or "
                       "unreachable, or no executor executes it now. Ask again.")  # fmt: skip
            return _render(request, {"problem": problem})
        context = {"run_id": run_id, "request_id": request_id, "tries": tries + 1,
                   "locals": include_locals}  # fmt: skip
        return _render(request, context)
    return _render(request, {"stack": found})


def _render(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return render(
        request, TEMPLATE, {"poll_ms": int(POLL_SECONDS * 1000), **context}, status=status
    )
