"""Links from the dashboard to the team's monitoring stack (docs/monitoring.md)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from durable.observability.tracing import trace_url

register = template.Library()


@register.simple_tag
def trace_fact(run_id: str) -> str:
    """A "Trace" fact linking the run to DURABLE_TRACE_URL_TEMPLATE; nothing when unset."""
    url = trace_url(run_id)
    if not url:
        return ""
    return format_html(
        '<div><dt>Trace</dt><dd><a id="trace-link" href="{}" target="_blank" rel="noopener">'
        "open in the trace UI</a></dd></div>",
        url,
    )
