"""plotly.js from the installed plotly package: no CDN, and its version is in the URL."""

from __future__ import annotations

from pathlib import Path

import plotly
from django.http import FileResponse, HttpRequest
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_VERSION = plotly.__version__


@require_GET
@cache_control(public=True, max_age=31_536_000, immutable=True)
def plotly_js(request: HttpRequest, version: str) -> FileResponse:
    """Cached for a year: a plotly upgrade changes the version and so the URL."""
    return FileResponse(PLOTLY_JS.open("rb"), content_type="text/javascript")
