"""Spans recorded in memory by the OpenTelemetry SDK (the provider can be set once), and
the dashboard and browser fixtures the health page tests share."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.dashboard.conftest import engine  # noqa: F401 - fixtures shared with the
from tests.e2e.conftest import browser, new_page  # noqa: F401 - dashboard and e2e tests

_exporter: InMemorySpanExporter | None = None


@pytest.fixture
def spans() -> InMemorySpanExporter:
    global _exporter
    if _exporter is None:
        _exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    _exporter.clear()
    return _exporter
