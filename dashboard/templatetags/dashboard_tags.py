"""Formatting for run values. Every filter returns plain text; autoescaping does the rest."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from dashboard.queries.detail import PREVIEW_CHARS
from dashboard.views.assets import PLOTLY_VERSION

register = template.Library()

FOLD_CHARS = 400


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
    if value is None:
        return "–"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    if value < 3_600_000:
        return f"{value / 60_000:.1f} min"
    return f"{value / 3_600_000:.1f} h"


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
    return reverse("dashboard:plotly_js", args=[PLOTLY_VERSION])


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
