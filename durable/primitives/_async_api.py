"""Awaitable twins of the primitives, for `async def` workflows and Django async views.

Each one calls its sync twin on the run thread (the thread that holds the run's database
connection, see durable.core._async_runs), so it records the same kind of history entry and
replays the same way. Inside an async workflow, sleep, send, set_event and start take
their position at the call, as steps do; a wait for something else (recv, get_event,
result with a timeout) takes its history entries as it goes, so it runs one at a time:
while it waits, the steps already called go on, and calling another raises a clear error.
Outside a workflow (an async view) the waits poll without holding a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from asgiref.sync import markcoroutinefunction, sync_to_async

from durable.core import _async_runs as async_runs
from durable.core import _clock as clock
from durable.core import _context as context
from durable.core import _validation as validation
from durable.core._context import RunContext, RunInterrupted, RunSuspended
from durable.core.conf import settings
from durable.core.store import _primitives as store_primitives
from durable.errors import ResultTimeoutError
from durable.primitives import _messaging as messaging
from durable.primitives import _sleep as timers
from durable.primitives import _streams as streams

T = TypeVar("T")

FIRST_POLL, LAST_POLL = 0.01, 0.25


def _in_run() -> bool:
    run_context = context.current()
    return run_context is not None and not run_context.in_step and async_runs.on_loop()


async def _primitive(what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`func` on the run thread; inside a run, as the one wait in progress (see module doc)."""
    if not _in_run():
        return await sync_to_async(func)(*args, **kwargs)
    async with async_runs.exclusive(what):
        return await sync_to_async(func)(*args, **kwargs)


def at_call(what: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]:
    """Inside an async run, `func` runs at the call, on the run thread, while the loop waits
    (a quick write: it takes its position in call order, as a step does); elsewhere it runs
    through `sync_to_async` when awaited."""
    if not _in_run():
        return sync_to_async(func)(*args, **kwargs)
    async_runs.check_not_waiting(f"durable.{what}()")
    return _done(async_runs.call_blocking(func, *args, **kwargs))


async def _done(value: T) -> T:
    return value


@markcoroutinefunction
def sleep_async(seconds: float) -> Awaitable[None]:
    """`durable.sleep` for async workflows (a plain `asyncio.sleep` outside one). The wake-up
    time is recorded at the call, so sleeps and steps may run side by side under `gather`."""
    run_context = context.current()
    if not _in_run() or run_context is None:
        return asyncio.sleep(seconds)
    async_runs.check_not_waiting("durable.sleep_async()")
    position = run_context.next_position(on_loop=True)
    wake_at = async_runs.call_blocking(timers.wake_up_time, run_context, position, seconds)
    return _sleep_until(run_context, wake_at)


async def _sleep_until(run_context: RunContext, wake_at: datetime) -> None:
    wait = await async_runs.on_run_thread(timers.inline_wait, run_context, wake_at)
    if wait is None:
        return
    if await asyncio.to_thread(run_context.cancelled.wait, wait):
        raise RunInterrupted(run_context.run_id)
    await async_runs.on_run_thread(run_context.check_interrupted)


async def recv_async(topic: str | None = None, timeout: float = messaging.DEFAULT_TIMEOUT) -> Any:
    """`durable.recv` for async workflows: the next message on `topic`, or None."""
    return await _primitive("recv_async", messaging.recv, topic, timeout)


@markcoroutinefunction
def send_async(
    run_id: str, message: Any, topic: str | None = None, idempotency_key: str | None = None
) -> Awaitable[None]:
    """`durable.send`, awaitable: from an async view, or recorded in an async workflow."""
    return at_call(
        "send_async", messaging.send, run_id, message, topic, idempotency_key=idempotency_key
    )


@markcoroutinefunction
def set_event_async(key: str, value: Any) -> Awaitable[None]:
    """`durable.set_event` for async workflows."""
    return at_call("set_event_async", messaging.set_event, key, value)


@markcoroutinefunction
def get_all_events_async(run_id: str) -> Awaitable[dict[str, Any]]:
    """`durable.get_all_events`, awaitable: in an async workflow a snapshot recorded at the
    call (a replay sees what the first run saw)."""
    return at_call("get_all_events_async", messaging.get_all_events, run_id)


@markcoroutinefunction
def write_stream_async(key: str, value: Any) -> Awaitable[int]:
    """`durable.write_stream` for async workflows: appended and recorded at the call."""
    return at_call("write_stream_async", streams.write_stream, key, value)


@markcoroutinefunction
def close_stream_async(key: str) -> Awaitable[None]:
    """`durable.close_stream` for async workflows: closed and recorded at the call."""
    return at_call("close_stream_async", streams.close_stream, key)


async def read_stream_async(
    run_id: str, key: str, *, after: int = -1, timeout: float | None = 60.0
) -> AsyncIterator[Any]:
    """`durable.read_stream`, as an async iterator that waits without holding a thread (an
    async view, an async step); like it, refused in a workflow body."""
    follower = streams.Follower(streams.checked_reader(run_id, key, after, timeout))
    read = sync_to_async(streams.stream_entries)
    while True:
        page = await read(run_id, key, follower.after)
        for value in follower.take(page):
            yield value
        pause = follower.pause_after(page)
        if pause is None:
            return
        await asyncio.sleep(pause)


async def get_event_async(run_id: str, key: str, timeout: float = messaging.DEFAULT_TIMEOUT) -> Any:
    """`durable.get_event`, awaitable; outside a workflow it polls without holding a thread."""
    if _in_run():
        return await _primitive("get_event_async", messaging.get_event, run_id, key, timeout)
    validation.validate_run_id(run_id)
    messaging.check_key(key)
    read = sync_to_async(store_primitives.get_event)
    found, value = await _poll(lambda: read(run_id, key), timeout)
    return value if found else None


async def result_async(handle: Any, timeout: float | None = None) -> Any:
    """`handle.result()`, awaitable: inside an async workflow it records and parks exactly as
    the sync one does (without a timeout it takes no entry, so children can be awaited side
    by side); elsewhere it polls the run without holding a thread."""
    if _in_run() and timeout is not None:  # its deadline is an entry of the history
        return await _primitive("result_async", handle.result, timeout)
    waiter = context.current()
    if _in_run() and waiter is not None:
        return await _child_result(handle, waiter)
    outcome = sync_to_async(handle._outcome)
    ended, value = await _poll(lambda: _ended(outcome), timeout)
    if not ended:
        raise ResultTimeoutError(
            f"run {handle.run_id} did not end within {timeout}s; it goes on — "
            "await result_async() again or check its status later"
        )
    return value


async def _child_result(handle: Any, waiter: RunContext) -> Any:
    """Wait inside an async workflow for another run, taking no history entry (its outcome
    is durable already), so several such waits may run side by side under `gather`; past
    DURABLE_SLEEP_INLINE_SECONDS the waiting run parks, as `handle.result()` does."""
    waited_since, interval = time.monotonic(), FIRST_POLL
    while True:
        ended, _, value = await async_runs.on_run_thread(handle._outcome)
        if ended:
            return value
        await async_runs.on_run_thread(waiter.check_interrupted)
        if time.monotonic() - waited_since > settings.DURABLE_SLEEP_INLINE_SECONDS:
            wake_at = await async_runs.on_run_thread(clock.deadline, settings.DURABLE_POLL_SECONDS)
            raise RunSuspended(waiter.run_id, wake_at)
        if await asyncio.to_thread(waiter.cancelled.wait, interval):
            raise RunInterrupted(waiter.run_id)
        interval = min(interval * 2, LAST_POLL)


async def _ended(outcome: Callable[[], Any]) -> tuple[bool, Any]:
    ended, _, value = await outcome()
    return ended, value


async def _poll(attempt: Callable[[], Any], timeout: float | None) -> tuple[bool, Any]:
    """Await `attempt()` until it finds (True, value) or `timeout` passes, backing off."""
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0)
    interval = FIRST_POLL
    while True:
        found, value = await attempt()
        remaining = None if deadline is None else deadline - time.monotonic()
        if found or (remaining is not None and remaining <= 0):
            return found, value
        await asyncio.sleep(interval if remaining is None else min(interval, remaining))
        interval = min(interval * 2, LAST_POLL)
