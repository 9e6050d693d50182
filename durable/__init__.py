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
    "register_error_type",
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
    "workflow": "durable.core._decorators",
    "step": "durable.core._decorators",
    "transaction": "durable.core._decorators",
    "start": "durable.core._start",
    "run": "durable.core._start",
    "get": "durable.core._start",
    "RunHandle": "durable.core._start",
    "Queue": "durable.queues",
    "sleep": "durable.primitives._sleep",
    "send": "durable.primitives._messaging",
    "recv": "durable.primitives._messaging",
    "set_event": "durable.primitives._messaging",
    "get_event": "durable.primitives._messaging",
    "get_all_events": "durable.primitives._messaging",
    "write_stream": "durable.primitives._streams",
    "close_stream": "durable.primitives._streams",
    "read_stream": "durable.primitives._streams",
    "stream_entries": "durable.primitives._streams",
    "scheduled": "durable.schedules",
    "register_error_type": "durable.core._error_types",
    "current": "durable.core._introspection",
    "get_run": "durable.core._introspection",
    "list_runs": "durable.core._introspection",
    "list_steps": "durable.core._introspection",
    "list_children": "durable.core._introspection",
    "list_events": "durable.core._introspection",
    "sleep_async": "durable.primitives._async_api",
    "get_all_events_async": "durable.primitives._async_api",
    "write_stream_async": "durable.primitives._async_api",
    "close_stream_async": "durable.primitives._async_api",
    "read_stream_async": "durable.primitives._async_api",
    "recv_async": "durable.primitives._async_api",
    "send_async": "durable.primitives._async_api",
    "set_event_async": "durable.primitives._async_api",
    "get_event_async": "durable.primitives._async_api",
    "start_async": "durable.core._start",
    "run_async": "durable.core._start",
}

# `durable.<name>` for the public modules; `durable.introspection` names the records
# (`durable.introspection.RunInfo`, `StepInfo`) that `get_run` and `list_steps` return
_MODULES = {
    name: f"durable.{name}" for name in ("operations", "errors", "client", "queues", "schedules")
} | {"introspection": "durable.core._introspection"}


def __getattr__(name: str) -> Any:
    """Import lazily, so `import durable` works before Django's apps are ready."""
    if name in _MODULES:
        import importlib

        return importlib.import_module(_MODULES[name])
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'durable' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
