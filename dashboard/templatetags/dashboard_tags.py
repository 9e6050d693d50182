"""Formatting for run values. Every filter returns plain text; autoescaping does the rest."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from dashboard.charts import human_ms
from dashboard.queries.detail import PREVIEW_CHARS
from dashboard.staticfiles import HTMX_STATIC, PLOTLY_STATIC
from dashboard.views.assets import HTMX_VERSION, PLOTLY_VERSION
from durable.core.conf import settings

register = template.Library()

FOLD_CHARS = 400
FINDER = "dashboard.staticfiles.PlotlyFinder"


@register.filter
def pretty_json(value: Any) -> str:
    """JSON text, indented unless it fits on a line (never marked safe: templates escape it)."""
    compact = json.dumps(value, ensure_ascii=False, default=str)
    if len(compact) <= 72:
        return compact
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def is_long(text: str) -> bool:
    return len(text) > FOLD_CHARS or text.count("\n") > 12


@register.filter
def ms(value: float | None) -> str:
    """Milliseconds as a readable duration: 85 ms, 1.4 s, 3.2 min, 2.1 h."""
    return human_ms(value)


@register.simple_tag
def elapsed(start: datetime | None, end: datetime | None = None) -> str:
    """Duration from start to end, or to now while the run goes on."""
    if start is None:
        return "–"
    return ms(((end or timezone.now()) - start).total_seconds() * 1000)


@register.filter
def short_name(name: str) -> str:
    """`demo.workflows.charge_payment` -> `charge_payment`; the full name is in a tooltip."""
    return name.rsplit(".", 1)[-1]


@register.filter
def count_label(count: int, cap: int) -> str:
    return f"{cap:,}+" if count >= cap else f"{count:,}"


@register.filter
def status_class(status: str) -> str:
    return f"status-{status.lower()}" if status else ""


@register.filter
def get(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if mapping else None


@register.simple_tag
def plotly_src() -> str:
    """The static file when the project collects it (compressed and hashed by its storage),
    else the dashboard's own view of the package file."""
    if FINDER in settings.STATICFILES_FINDERS:
        return static(PLOTLY_STATIC)
    return reverse("dashboard:plotly_js", args=[PLOTLY_VERSION])


@register.simple_tag
def htmx_src() -> str:
    """Like `plotly_src`: the collected static file (compressed) when the project has the
    finder, else the dashboard's own view of the django-htmx package file."""
    if FINDER in settings.STATICFILES_FINDERS:
        return static(HTMX_STATIC)
    return reverse("dashboard:htmx_js", args=[HTMX_VERSION])


@register.simple_tag
def host_home_url() -> str:
    """Where the nav's way back to the host site points; "" when the dashboard is the site."""
    home = settings.DURABLE_HOST_HOME_URL
    return "" if home in ("", reverse("dashboard:runs")) else home


@register.simple_tag
def after_logout_url() -> str:
    """Where the nav's "Log out" sends the user: back to the dashboard (and so to its log-in
    page) when the host set no LOGOUT_REDIRECT_URL; there Django would show the admin's
    "Logged out" page, whose "Log in again" is a dead end for a viewer who is not staff.
    "" leaves the host's choice alone."""
    return "" if settings.LOGOUT_REDIRECT_URL else reverse("dashboard:runs")


def _value(obj: Any, field: str) -> Any:
    """The value behind a preview when it is whole, else None (see queries.detail)."""
    preview = getattr(obj, f"{field}_preview", None)
    if preview is None or getattr(obj, f"{field}_chars", 0) > PREVIEW_CHARS:
        return None
    return json.loads(preview)


@register.filter
def shown(obj: Any, field: str) -> str:
    """An input or output as the page shows it: whole and indented when it fits in the
    preview, else the first PREVIEW_CHARS characters of its JSON text."""
    if not hasattr(obj, f"{field}_preview"):
        return pretty_json(getattr(obj, field))
    if truncated(obj, field):
        return getattr(obj, f"{field}_preview") + "…"
    return pretty_json(_value(obj, field))


@register.filter
def truncated(obj: Any, field: str) -> bool:
    return (getattr(obj, f"{field}_chars", 0) or 0) > PREVIEW_CHARS


@register.filter
def child_run_id(step: Any) -> str:
    """The run a `child` entry started (its recorded output is {"run_id": …}), else ""."""
    output = _value(step, "output") if step.kind == "child" else None
    run_id = output.get("run_id") if isinstance(output, dict) else None
    return run_id if isinstance(run_id, str) and run_id else ""


@register.filter
def delayed_until(run: Any) -> datetime | None:
    """When a delayed start (`durable.start(…, delay=…)`) is due: set only while the run
    waits for its first start with a due time ahead (a Run or a runs-list row)."""

    def field(name: str) -> Any:
        return run.get(name) if isinstance(run, dict) else getattr(run, name, None)

    due = field("available_at")
    waiting = field("status") == "ENQUEUED" and field("started_at") is None
    return due if waiting and due is not None and due > timezone.now() else None
