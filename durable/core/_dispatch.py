"""Handing runs to this process's executor from the layers below it.

The executors package registers itself here when the app is ready (`DurableConfig.ready`),
so starting runs, delivering messages and operator actions dispatch what they enqueued
without importing the executors (which import them): dependencies point one way.
"""

from __future__ import annotations

import contextvars
import threading
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

    def execute_started(self, claimed: ClaimedRun, since: float) -> None: ...


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
    is given back. `since` is before the insert: a cancel heard after it stands. `here`:
    the thread that starts it executes it instead (`durable.run`, see `execute_here`)."""

    starter: LocalStarter
    run_id: str
    since: float
    here: bool = False

    @property
    def executor_id(self) -> str:
        return self.starter.executor_id

    @property
    def lease(self) -> float:
        return self.starter.lease

    def hand(self, claimed: ClaimedRun) -> None:
        if self.here:
            _this_thread.handed = Handed(self.starter, claimed, self.since)
        else:
            self.starter.hand_started(claimed, self.since)

    def cancel(self) -> None:
        self.starter.cancel_start(self.run_id)


@dataclass(frozen=True)
class Handed:
    """A run claimed in its insert for the thread that started it, which executes it."""

    starter: LocalStarter
    claimed: ClaimedRun
    since: float

    def execute(self) -> None:
        """On this thread, from an empty context, as a pool thread would: the caller's
        context variables are not the run's, and the run's stay out of the caller's."""
        contextvars.Context().run(self.starter.execute_started, self.claimed, self.since)

    def give_to_pool(self) -> None:
        self.starter.hand_started(self.claimed, self.since)


class _ThisThread(threading.local):
    wants: bool = False  # the next local start of this thread is executed by it
    handed: Handed | None = None


_this_thread = _ThisThread()


def execute_here() -> None:
    """The next run this thread starts, when claimed in its insert, is executed by this
    thread (`take_handed`) rather than handed to a pool thread: for `durable.run`, which
    would only wait for it. Only the next start: the run's own children are not."""
    _this_thread.wants, _this_thread.handed = True, None


def take_handed() -> Handed | None:
    """The run handed to this thread since `execute_here`, if one was; asks no more."""
    handed, _this_thread.handed, _this_thread.wants = _this_thread.handed, None, False
    return handed


def local_start(run_id: str, workflow: str, version: str) -> LocalStart | None:
    """A thread held for the run, when this process's executor serves `workflow` at
    `version`, takes runs and has a thread free. Never inside the caller's transaction:
    the run is the transaction's, and exists for others only once it commits."""
    here, _this_thread.wants = _this_thread.wants, False
    if _dispatcher is None or transaction.get_connection().in_atomic_block:
        return None
    starter = _dispatcher.local_starter()
    if starter is None:
        return None
    since = time.monotonic()
    if not starter.reserve_start(run_id, f"{workflow}@{version}"):
        return None
    return LocalStart(starter, run_id, since, here)


def _registered() -> Dispatcher:
    if _dispatcher is None:
        raise RuntimeError(
            "no executor is registered to take runs: add 'durable' to INSTALLED_APPS and "
            "call django.setup() before starting runs"
        )
    return _dispatcher
