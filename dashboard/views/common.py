"""What every page needs: the user's rights in the context, and page-or-partial rendering."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render

from dashboard.permissions import can_operate


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], partial: str | None = None
) -> HttpResponse:
    """The full page, or only `template#partial` when htmx asks for a refresh."""
    context = {"can_operate": can_operate(request.user), **context}
    # the header itself, not django-htmx's middleware: the host need not install it
    if partial and request.headers.get("HX-Request") == "true":
        return render(request, f"{template}#{partial}", context)
    return render(request, template, context)


def bad_request(message: str) -> HttpResponse:
    """A 400 that says what was wrong, as plain text: the message may quote the input."""
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
