"""plotly.js as a static file, straight from the installed plotly package (no copy, no CDN).

With this finder in STATICFILES_FINDERS, `collectstatic` collects plotly.min.js like any
app file, so a compressing, hashing storage (WhiteNoise's) serves it gzip/brotli-encoded
(4.8 MB becomes about 1.4 MB) with a far-future cache header; the dashboard then links it
with `{% static %}`. Without the finder it is served by `dashboard.views.assets`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
PREFIX = "dashboard/vendor"
PLOTLY_STATIC = f"{PREFIX}/plotly.min.js"


class PlotlyFinder(BaseFinder):
    """Finds `dashboard/vendor/plotly.min.js` in the plotly package."""

    def check(self, **kwargs: Any) -> list:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        if path != PLOTLY_STATIC:
            return [] if find_all or kwargs.get("all") else ""
        found = str(PLOTLY_DIR / "plotly.min.js")
        return [found] if find_all or kwargs.get("all") else found

    def list(self, ignore_patterns: Any):
        storage = FileSystemStorage(location=str(PLOTLY_DIR))
        storage.prefix = PREFIX
        yield "plotly.min.js", storage
