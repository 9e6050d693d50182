"""Handing runs to this process's executor from the layers below it.

The executors package registers itself here when the app is ready (`DurableConfig.ready`),
so starting runs, delivering messages and operator actions dispatch what they enqueued
without importing the executors (which import them): dependencies point one way.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.db import transaction


class Dispatcher(Protocol):
    def dispatch(self, run_id: str) -> None: ...

    def get_executor(self) -> Any: ...


_dispatcher: Dispatcher | None = None


def register(dispatcher: Dispatcher) -> None:
    """Make `dispatcher` (the `durable.executors` module) take the runs enqueued here."""
    global _dispatcher
    _dispatcher = dispatcher


def dispatch_on_commit(run_id: str) -> None:
    """Dispatch the run once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _registered().dispatch(run_id))


def start_executor_on_commit() -> None:
    """Start this process's executor after commit: its poll takes delayed runs when due."""
    transaction.on_commit(lambda: _registered().get_executor())


def _registered() -> Dispatcher:
    if _dispatcher is None:
        raise RuntimeError(
            "no executor is registered to take runs: add 'durable' to INSTALLED_APPS and "
            "call django.setup() before starting runs"
        )
    return _dispatcher
