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
from durable.observability import _replica as replica


@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    skip = frozenset(filter(None, request.GET.get("skip", "").split(",")))
    healthy, body = health.report(skip)
    return JsonResponse(body, status=200 if healthy else 503)


NO_TOKEN = (
    "/metrics needs a token outside development: set DURABLE_METRICS_TOKEN and scrape with "
    '"Authorization: Bearer <token>" (or set DURABLE_METRICS_ENABLED = False)'
)


def _authorized(request: HttpRequest, token: str) -> bool:
    """The header compared as bytes: a WSGI server hands over the raw bytes decoded as
    latin-1, so encoding back gives what the scraper sent, non-ASCII or not."""
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    try:
        sent_bytes = sent.encode("latin-1")
    except UnicodeEncodeError:  # not something a server hands over: never the token
        return False
    return hmac.compare_digest(sent_bytes, b"Bearer " + token.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.DURABLE_METRICS_ENABLED:
        raise Http404("metrics are off: set DURABLE_METRICS_ENABLED = True")
    token = settings.DURABLE_METRICS_TOKEN
    if not token and not settings.DEBUG:
        return HttpResponse(NO_TOKEN, status=403, content_type="text/plain; charset=utf-8")
    if token and not _authorized(request, token):
        response = HttpResponse("a bearer token is required (DURABLE_METRICS_TOKEN)", status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    from durable.observability import _metrics as metrics

    try:
        # read from DURABLE_READ_DATABASE when there is one: a scrape's aggregations stay off
        # the primary (docs/replica.md)
        body, content_type = replica.read_on_replica(
            lambda _state: metrics.exposition(request.headers.get("Accept", ""))
        )
    except ImproperlyConfigured as missing:  # prometheus-client is an optional extra
        return HttpResponse(str(missing), status=501, content_type="text/plain")
    return HttpResponse(body, content_type=content_type)
