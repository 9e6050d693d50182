"""Site-wide protections: a Content-Security-Policy, and no NUL bytes in requests."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse


class ContentSecurityPolicyMiddleware:
    """The dashboard loads only its own scripts (app.js, htmx, plotly.js) and draws charts
    from JSON data blocks, so the policy forbids inline scripts: an injected `<script>`
    never runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = policy
        return response


class RejectNulBytesMiddleware:
    """A 400 for a NUL byte in the path, the query, a form field or a header: PostgreSQL
    cannot hold one in text, so any page, admin search or failed-login record (django-axes
    keeps the Accept and User-Agent headers) that passed it on would fail with a 500. HTTP
    itself forbids NUL in a header's value (RFC 9110, section 5.5)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = "/api/" in request.path
        try:
            refused = _has_nul_anywhere(request, api)
        except SuspiciousOperation as exc:  # e.g. over DATA_UPLOAD_MAX_NUMBER_FIELDS
            if not api:
                raise  # Django's own 400 page
            return _api_problem(f"Request refused: {exc}")
        if refused:
            if api:  # the HTTP API answers JSON problems, never HTML
                return _api_problem("Request refused: it contains a NUL byte.")
            return HttpResponseBadRequest("Request refused: it contains a NUL byte.")
        return self.get_response(request)


def _has_nul_anywhere(request: HttpRequest, api: bool) -> bool:
    return (
        "\x00" in request.path
        or _header_has_nul(request.META)
        or _has_nul(request.GET)
        # The API's body is JSON, checked by its own parser (dashboard.api.parsing). Read
        # here as a form, a multipart body's stream would be spent before the API reads it
        # (a 500), and one too big refused in HTML.
        or (not api and _has_nul(request.POST))
    )


def _api_problem(detail: str) -> JsonResponse:
    body = {"type": "about:blank#bad-request", "title": "Bad Request", "status": 400,
            "detail": detail, "errors": []}  # fmt: skip
    return JsonResponse(body, status=400, content_type="application/problem+json")


def _header_has_nul(meta: dict) -> bool:
    return any(
        "\x00" in value
        for name, value in meta.items()
        if (name.startswith("HTTP_") or name == "CONTENT_TYPE") and isinstance(value, str)
    )


def _has_nul(params) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values)
               for key, values in params.lists())  # fmt: skip
