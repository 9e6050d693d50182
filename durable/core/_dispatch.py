"""Handing runs to this process's executor from the layers below it.

The executors package registers itself here when the app is ready (`DurableConfig.ready`),
so starting runs, delivering messages and operator actions dispatch what they enqueued
without importing the executors (which import them): dependencies point one way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import transaction

from durable.core.store import ClaimedRun


class LocalStarter(Protocol):
    """A thread executor in this process: it may take a new run at its insert."""

    executor_id: str
    lease: float

    def reserve_start(self, run_id: str, key: str) -> bool: ...

    def hand_started(self, claimed: ClaimedRun, since: float) -> None: ...

    def cancel_start(self, run_id: str) -> None: ...


class Dispatcher(Protocol):
    def dispatch(self, run_id: str) -> None: ...

    def get_executor(self) -> Any: ...

    def local_starter(self) -> LocalStarter | None: ...


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


@dataclass(frozen=True)
class LocalStart:
    """A thread of this process's executor held for one new run: the run is inserted
    claimed by that executor (`store.insert_run`), then handed to the thread, or the thread
    is given back. `since` is before the insert: a cancel heard after it stands."""

    starter: LocalStarter
    run_id: str
    since: float

    @property
    def executor_id(self) -> str:
        return self.starter.executor_id

    @property
    def lease(self) -> float:
        return self.starter.lease

    def hand(self, claimed: ClaimedRun) -> None:
        self.starter.hand_started(claimed, self.since)

    def cancel(self) -> None:
        self.starter.cancel_start(self.run_id)


def local_start(run_id: str, workflow: str, version: str) -> LocalStart | None:
    """A thread held for the run, when this process's executor serves `workflow` at
    `version`, takes runs and has a thread free. Never inside the caller's transaction:
    the run is the transaction's, and exists for others only once it commits."""
    if _dispatcher is None or transaction.get_connection().in_atomic_block:
        return None
    starter = _dispatcher.local_starter()
    if starter is None:
        return None
    since = time.monotonic()
    if not starter.reserve_start(run_id, f"{workflow}@{version}"):
        return None
    return LocalStart(starter, run_id, since)


def _registered() -> Dispatcher:
    if _dispatcher is None:
        raise RuntimeError(
            "no executor is registered to take runs: add 'durable' to INSTALLED_APPS and "
            "call django.setup() before starting runs"
        )
    return _dispatcher
