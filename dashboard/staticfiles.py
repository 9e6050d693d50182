"""plotly.js and htmx as static files, straight from their installed packages (no copy, no CDN).

With this finder in STATICFILES_FINDERS, `collectstatic` collects plotly.min.js and
htmx-2.min.js like any app file, so a compressing, hashing storage (WhiteNoise's) serves
them gzip/brotli-encoded (plotly's 4.8 MB becomes about 1.4 MB) with a far-future cache
header; the dashboard then links them with `{% static %}`. Without the finder they are
served by `dashboard.views.assets`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import django_htmx
import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
HTMX_DIR = Path(django_htmx.__file__).parent / "static" / "django_htmx"
PREFIX = "dashboard/vendor"
PLOTLY_STATIC = f"{PREFIX}/plotly.min.js"
HTMX_STATIC = f"{PREFIX}/htmx-2.min.js"
FILES = {PLOTLY_STATIC: PLOTLY_DIR, HTMX_STATIC: HTMX_DIR}


class PlotlyFinder(BaseFinder):
    """Finds `dashboard/vendor/plotly.min.js` in the plotly package and
    `dashboard/vendor/htmx-2.min.js` in the django-htmx package."""

    def check(self, **kwargs: Any) -> list:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        every = find_all or kwargs.get("all")
        if path not in FILES:
            return [] if every else ""
        found = str(FILES[path] / path.rsplit("/", 1)[1])
        return [found] if every else found

    def list(self, ignore_patterns: Any):
        for path, directory in FILES.items():
            storage = FileSystemStorage(location=str(directory))
            storage.prefix = PREFIX
            yield path.rsplit("/", 1)[1], storage
