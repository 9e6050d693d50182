"""Spans recorded in memory by the OpenTelemetry SDK (the provider can be set once)."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

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


@pytest.fixture
def short_lease(settings) -> None:
    """A 4 s lease, for an executor killed without a goodbye: silent 5 s, it is still heard
    from within two leases, so only the recovery verdict's rule (lifeline lock gone, silent
    three heartbeats) can call it dead. That rule waits half a lease after the server starts
    (a restart drops every lock); the embedded server starts with the test session, so the
    test waits out what is left of those 2 s."""
    settings.DURABLE_LEASE_SECONDS = 4
    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM clock_timestamp() - pg_postmaster_start_time())")
        time.sleep(max(0.0, settings.DURABLE_LEASE_SECONDS / 2 - float(cursor.fetchone()[0])))
