"""Durable execution for Django: workflows whose steps are checkpointed to PostgreSQL.

import durable

@durable.workflow()
def checkout(order_id: int) -> dict: ...

handle = durable.start(checkout, 42, run_id="order-42")
handle.result(timeout=30)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Queue",
    "RunHandle",
    "close_stream",
    "close_stream_async",
    "current",
    "get",
    "get_all_events",
    "get_all_events_async",
    "get_event",
    "get_event_async",
    "get_run",
    "list_children",
    "list_events",
    "list_runs",
    "list_steps",
    "read_stream",
    "read_stream_async",
    "recv",
    "recv_async",
    "run",
    "run_async",
    "scheduled",
    "schedules",
    "send",
    "send_async",
    "set_event",
    "set_event_async",
    "sleep",
    "sleep_async",
    "start",
    "start_async",
    "step",
    "stream_entries",
    "transaction",
    "workflow",
    "write_stream",
    "write_stream_async",
]

_LAZY = {
    "workflow": "durable.decorators",
    "step": "durable.decorators",
    "transaction": "durable.decorators",
    "start": "durable.api",
    "run": "durable.api",
    "get": "durable.api",
    "RunHandle": "durable.api",
    "Queue": "durable.queues",
    "sleep": "durable.timers",
    "send": "durable.messaging",
    "recv": "durable.messaging",
    "set_event": "durable.messaging",
    "get_event": "durable.messaging",
    "get_all_events": "durable.messaging",
    "write_stream": "durable.streams",
    "close_stream": "durable.streams",
    "read_stream": "durable.streams",
    "stream_entries": "durable.streams",
    "scheduled": "durable.schedules",
    "current": "durable.introspection",
    "get_run": "durable.introspection",
    "list_runs": "durable.introspection",
    "list_steps": "durable.introspection",
    "list_children": "durable.introspection",
    "list_events": "durable.introspection",
    "sleep_async": "durable.async_api",
    "recv_async": "durable.async_api",
    "send_async": "durable.async_api",
    "set_event_async": "durable.async_api",
    "get_event_async": "durable.async_api",
    "read_stream_async": "durable.async_api",
    "close_stream_async": "durable.async_api",
    "write_stream_async": "durable.async_api",
    "get_all_events_async": "durable.async_api",
    "start_async": "durable.async_api",
    "run_async": "durable.async_api",
}


def __getattr__(name: str) -> Any:
    """Import lazily, so `import durable` works before Django's apps are ready."""
    if name in ("operations", "errors", "client", "introspection", "queues", "schedules"):
        import importlib

        return importlib.import_module(f"durable.{name}")
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'durable' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
