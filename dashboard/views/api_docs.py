"""The API's browsable docs and its answer to unknown paths. Swagger UI as django-ninja
ships it, served from the installed package (no CDN, no need for `ninja` in INSTALLED_APPS),
under the site's CSP (no inline script: the settings are a JSON data block that ninja's init
script reads)."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from dashboard.api.problems import problem
from dashboard.permissions import viewer_required

SWAGGER_DIR = Path(ninja.__file__).parent / "static" / "ninja"
SWAGGER_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
    "swagger-ui.css": "text/css",
}
NINJA_VERSION = importlib.metadata.version("django-ninja")


@viewer_required
def docs(request: HttpRequest) -> HttpResponse:
    settings = {"url": reverse("dashboard:dashboard_api:openapi-json"), "layout": "BaseLayout",
                "deepLinking": True}  # fmt: skip
    context = {"swagger_settings": json.dumps(settings), "version": NINJA_VERSION}
    return render(request, "dashboard/api_docs.html", context)


@require_GET
@cache_control(public=True, max_age=31_536_000, immutable=True)
def swagger_asset(request: HttpRequest, version: str, name: str) -> FileResponse:
    """Cached for a year: an upgrade of django-ninja changes the version and so the URL."""
    if name not in SWAGGER_FILES:
        raise Http404("no such Swagger UI file")
    return FileResponse((SWAGGER_DIR / name).open("rb"), content_type=SWAGGER_FILES[name])


@csrf_exempt
def api_not_found(request: HttpRequest, rest: str) -> HttpResponse:
    """Any other path under api/: a JSON problem, like every API answer."""
    return problem(404, "No such API endpoint: see api/openapi.json for the ones there are.")
