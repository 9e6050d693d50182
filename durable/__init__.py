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
    "get",
    "get_event",
    "get_event_async",
    "recv",
    "recv_async",
    "run",
    "run_async",
    "scheduled",
    "send",
    "send_async",
    "set_event",
    "set_event_async",
    "sleep",
    "sleep_async",
    "start",
    "start_async",
    "step",
    "transaction",
    "workflow",
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
    "scheduled": "durable.schedules",
    "sleep_async": "durable.async_api",
    "recv_async": "durable.async_api",
    "send_async": "durable.async_api",
    "set_event_async": "durable.async_api",
    "get_event_async": "durable.async_api",
    "start_async": "durable.async_api",
    "run_async": "durable.async_api",
}


def __getattr__(name: str) -> Any:
    """Import lazily, so `import durable` works before Django's apps are ready."""
    if name in ("operations", "errors"):
        import importlib

        return importlib.import_module(f"durable.{name}")
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'durable' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
