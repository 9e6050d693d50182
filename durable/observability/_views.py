"""`/health` and `/metrics`: plain views for probes and scrapers, without login.

A host project mounts them with `path("", include("durable.observability.urls"))`.
"""

from __future__ import annotations

import hmac

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from durable.core.conf import settings
from durable.observability import _health as health


@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    skip = frozenset(filter(None, request.GET.get("skip", "").split(",")))
    healthy, body = health.report(skip)
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.DURABLE_METRICS_ENABLED:
        raise Http404("metrics are off: set DURABLE_METRICS_ENABLED = True")
    token = settings.DURABLE_METRICS_TOKEN
    if token and not hmac.compare_digest(
        request.headers.get("Authorization", ""), f"Bearer {token}"
    ):
        response = HttpResponse("a bearer token is required (DURABLE_METRICS_TOKEN)", status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    from durable.observability import _metrics as metrics

    try:
        body, content_type = metrics.exposition(request.headers.get("Accept", ""))
    except ImproperlyConfigured as missing:  # prometheus-client is an optional extra
        return HttpResponse(str(missing), status=501, content_type="text/plain")
    return HttpResponse(body, content_type=content_type)
