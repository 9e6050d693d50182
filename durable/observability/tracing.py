"""OpenTelemetry traces: each run a trace, each execution of it a span, each step attempt
a child span. A no-op when `opentelemetry-api` is not installed (the [otel] extra).

A run's trace id is derived from its id, so every execution of one run (the first, a
recovery by another executor, a resume days later) lands in the same trace with no stored
id, and the dashboard computes the trace link from the run id alone. A forked or restarted
run is a new trace whose run span links to its origin's trace. Nothing here touches the
database except one lookup of the origin, per execution, and only while spans record.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from django.db import DatabaseError

from durable.core.conf import settings
from durable.core.store import _monitoring as store_monitoring

try:
    from opentelemetry import trace
    from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags
except ImportError:  # the [otel] extra is not installed
    trace = None  # type: ignore[assignment]

logger = logging.getLogger("durable")
_tracer = trace.get_tracer("durable") if trace is not None else None
_DEFAULT_PROVIDERS = (
    (trace.ProxyTracerProvider, trace.NoOpTracerProvider) if trace is not None else ()
)


def trace_id_for(run_id: str) -> int:
    """The 128-bit trace id of a run: the same in every process and execution."""
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:16], "big") or 1


def trace_url(run_id: str) -> str:
    """The run's page in the team's trace UI (`DURABLE_TRACE_URL_TEMPLATE`), or ""."""
    template = settings.DURABLE_TRACE_URL_TEMPLATE
    if not template:
        return ""
    return template.format(trace_id=f"{trace_id_for(run_id):032x}", run_id=run_id)


def _run_parent(run_id: str) -> SpanContext:
    """A remote parent carrying the run's trace id: spans under it join the run's trace."""
    span_id = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[16:24], "big") or 1
    return SpanContext(
        trace_id_for(run_id), span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )


def _origin_link(run_id: str) -> list[Link]:
    """A link to the origin's trace; none if the lookup fails (a trace never stops a run)."""
    try:
        origin = store_monitoring.forked_from(run_id)
    except DatabaseError as exc:
        logger.warning("run %s: trace link to its origin skipped (%s)", run_id, exc)
        return []
    return [Link(_run_parent(origin), {"durable.link": "forked_from"})] if origin else []


@contextmanager
def run_span(attributes: dict[str, Any]) -> Iterator[None]:
    """The span of one execution of a run, in the run's trace (call when active())."""
    assert _tracer is not None
    run_id = attributes["durable.run_id"]
    parent = trace.set_span_in_context(NonRecordingSpan(_run_parent(run_id)))
    with _tracer.start_as_current_span(
        f"run {attributes['durable.workflow']}", context=parent, attributes=attributes
    ) as span:
        if span.is_recording():
            for link in _origin_link(run_id):
                span.add_link(link.context, link.attributes)
        yield


def attempt_span(attributes: dict[str, Any]) -> AbstractContextManager[Any]:
    """The span of one step attempt, current while the attempt runs (call when active())."""
    assert _tracer is not None
    return _tracer.start_as_current_span(
        f"step {attributes['durable.step']}", attributes=attributes
    )


def set_cpu_seconds(seconds: float) -> None:
    """Record the current attempt's CPU time (`time.thread_time()`) on its span."""
    trace.get_current_span().set_attribute("durable.cpu_seconds", seconds)


_configured = False


def active() -> bool:
    """Whether spans go anywhere: opentelemetry is installed and a provider is configured
    (the API's default proxy and no-op providers drop them, so the hooks skip the work).
    A provider is set once per process, so a yes is remembered."""
    global _configured
    if not _configured and trace is not None:
        _configured = not isinstance(trace.get_tracer_provider(), _DEFAULT_PROVIDERS)
    return _configured
