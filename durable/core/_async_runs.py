"""Running an `async def` workflow: its event loop, and the thread that owns its database.

The executor's thread (the *run thread*) keeps the run's Django connection. It hands the
coroutine to asgiref's `async_to_sync`, which runs it on an event loop in a helper thread
while the run thread serves `sync_to_async` calls — Django's own model, so Django's async
ORM and `sync_to_async` inside async steps land on the run thread too. Every checkpoint
is written there, one at a time: concurrent steps serialise on the one connection.

Invariant: positions are taken in the order the code asks for them — a step, sleep, send,
set_event or child start at its call (on the loop, or on the run thread while the loop
waits for it); a wait for another party (recv, get_event, result with a timeout) as it
goes, while no other call may take one (`exclusive`) — never on the run thread behind the
loop's back, so `asyncio.gather` replays in the order it first ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync, async_to_sync, sync_to_async

from durable.errors import DurableError

T = TypeVar("T")


@dataclass
class LoopState:
    """What the run's coroutines share: the wait (recv, get_event, …) in progress, if any."""

    waiting: str | None = None


_loop_state: contextvars.ContextVar[LoopState | None] = contextvars.ContextVar(
    "durable_loop_state", default=None
)


class SyncPrimitiveOnLoop(DurableError):
    """A sync primitive (sleep, recv, send, …) was called on an async workflow's loop."""

    def __init__(self, workflow: str) -> None:
        super().__init__(
            f"workflow {workflow} is async: a sync durable primitive cannot run on its event "
            f"loop; await its twin instead ({', '.join(AWAITABLE_TWINS)})"
        )


AWAITABLE_TWINS = (
    "durable.sleep_async", "recv_async", "send_async", "set_event_async", "get_event_async",
    "get_all_events_async", "write_stream_async", "close_stream_async", "start_async",
    "run_async", "handle.result_async",
)  # fmt: skip


def call(func: Callable[..., Any], args: list | tuple, kwargs: dict) -> Any:
    """Call a workflow (or step) function on this, the run thread: an `async def` one runs
    to its end on an event loop of its own (exceptions, RunSuspended included, come back
    here) while this thread serves its database calls."""
    if not inspect.iscoroutinefunction(func):
        return func(*args, **kwargs)

    async def main() -> Any:
        token = _loop_state.set(LoopState())
        try:
            return await func(*args, **kwargs)
        finally:
            _loop_state.reset(token)

    return async_to_sync(main, force_new_loop=True)()


def on_loop() -> bool:
    """True on the event loop of an async run (where Django's connection must not be used)."""
    return _loop_state.get() is not None and loop_runs_here()


def loop_runs_here() -> bool:
    """True on a thread whose event loop is running (any loop, a run's or not)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def call_blocking(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `func` on the run thread and wait, blocking the loop: for sync code called from
    an async workflow (a sync step, a child start) that must take its position now."""
    executor = AsyncToSync.loop_thread_executors.get(asyncio.get_running_loop())
    if executor is None:  # pragma: no cover - asgiref changed how it runs loops
        raise DurableError("the async run's database thread is gone; report this as a bug")
    call_context = contextvars.copy_context()
    return executor.submit(call_context.run, functools.partial(func, *args, **kwargs)).result()


async def on_run_thread(func: Callable[..., T], *args: Any) -> T:
    """Await `func(*args)` run on the run thread (the one holding the database connection)."""
    return await sync_to_async(func, thread_sensitive=True)(*args)


@contextlib.asynccontextmanager
async def exclusive(what: str) -> AsyncIterator[None]:
    """Mark a primitive in progress: it takes its history entries on the run thread as it
    goes (a wait takes one or two), so no other call may take a position until it ends."""
    state = _loop_state.get()
    if state is not None and state.waiting is not None:
        raise DurableError(
            f"durable.{what}() started while durable.{state.waiting}() is still in progress in "
            "the same run; these take their history entries as they go, so await one before "
            "starting the next"
        )
    if state is not None:
        state.waiting = what
    try:
        yield
    finally:
        if state is not None:
            state.waiting = None


def check_not_waiting(what: str) -> None:
    """Raised when `what` (a step, a primitive) is called while a wait is in progress."""
    state = _loop_state.get()
    if state is not None and state.waiting is not None:
        raise DurableError(
            f"{what} was called while durable.{state.waiting}() is in progress in the same "
            "run; it takes its history entries as it goes, so call steps before it starts or "
            "after it ends, not while it waits"
        )
