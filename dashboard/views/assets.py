"""plotly.js and htmx from their installed packages: no CDN, and the version is in the URL.

plotly.js is 4.8 MB; browsers that accept gzip (all of them) get a copy compressed once per
process (about 1.4 MB), since WhiteNoise only compresses files under STATIC_ROOT (the
dashboard.staticfiles finder puts it there on `collectstatic`).
"""

from __future__ import annotations

import functools
import gzip
import importlib.metadata
from pathlib import Path

import django_htmx
import plotly
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_VERSION = plotly.__version__


@functools.cache
def _gzipped() -> bytes:
    return gzip.compress(PLOTLY_JS.read_bytes(), compresslevel=9, mtime=0)


@require_GET
@cache_control(public=True, max_age=31_536_000, immutable=True)
def plotly_js(request: HttpRequest, version: str) -> HttpResponse:
    """Cached for a year: a plotly upgrade changes the version and so the URL."""
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(_gzipped(), content_type="text/javascript")
        response["Content-Encoding"] = "gzip"
    else:
        response = FileResponse(PLOTLY_JS.open("rb"), content_type="text/javascript")
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


HTMX_JS = Path(django_htmx.__file__).parent / "static" / "django_htmx" / "htmx-2.min.js"
HTMX_VERSION = importlib.metadata.version("django-htmx")


@require_GET
@cache_control(public=True, max_age=31_536_000, immutable=True)
def htmx_js(request: HttpRequest, version: str) -> FileResponse:
    """htmx from the django-htmx package, served by the dashboard: the host need not
    install django_htmx's static files. Cached for a year, like plotly."""
    return FileResponse(HTMX_JS.open("rb"), content_type="text/javascript")
