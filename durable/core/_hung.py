"""Steps that hang: bounding a step by its `timeout=`, and counting the threads left behind.

Python cannot stop a thread. A step with `timeout=` runs on a helper thread that the
executor thread waits for; past the timeout the executor thread goes on and the helper is
*abandoned*: it finishes whenever its call returns, and its result is thrown away.
Abandoned threads still alive are counted; past DURABLE_MAX_ABANDONED_THREADS the thread
executor stops taking runs and logs that the process needs a restart (on Celery, use the
worker's time limits, which can kill a process).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection

from durable.core.conf import settings
from durable.errors import StepTimeoutError

logger = logging.getLogger("durable")

_abandoned: list[threading.Thread] = []
_lock = threading.Lock()
# waiting thread's ident -> the helper executing its step body now (for live stacks)
_helpers: dict[int, threading.Thread] = {}


def call_with_timeout(
    func: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    *,
    timeout: float,
    cancelled: threading.Event,
    interrupted: Callable[[], BaseException],
    where: str,
) -> Any:
    """`func(*args, **kwargs)` on a helper thread, waited for at most `timeout` seconds.

    Raises StepTimeoutError past the timeout, or `interrupted()` then if `cancelled` is set.
    """
    done = threading.Event()
    box: dict[str, Any] = {}
    call_context = contextvars.copy_context()

    def body() -> None:
        try:
            box["value"] = call_context.run(func, *args, **kwargs)
        except BaseException as exc:  # handed to the waiting thread as the step's outcome
            box["error"] = exc
        finally:
            connection.close()
            done.set()

    helper = threading.Thread(target=body, name=f"durable-step {where}", daemon=True)
    helper.start()
    waiter = threading.get_ident()
    _helpers[waiter] = helper
    try:
        return _wait(helper, done, box, timeout, cancelled, interrupted, where)
    finally:
        _helpers.pop(waiter, None)


def helper_of(thread: threading.Thread) -> threading.Thread | None:
    """The helper thread executing `thread`'s step body under a timeout, if any now."""
    return _helpers.get(thread.ident or -1)


def _wait(
    helper: threading.Thread,
    done: threading.Event,
    box: dict[str, Any],
    timeout: float,
    cancelled: threading.Event,
    interrupted: Callable[[], BaseException],
    where: str,
) -> Any:
    # A cancel does not abandon the body: like any step's, it is waited for and its return
    # checkpointed (the run's hold stays while it runs, so a resume cannot run the step
    # again beside it); a thread stuck past that is the executor's to replace
    deadline = time.monotonic() + timeout
    while not done.wait(0.05):
        if time.monotonic() >= deadline:
            if cancelled.is_set():
                abandon(helper, f"{where}: the run was cancelled and the step outran its timeout")
                raise interrupted()
            abandon(helper, f"{where}: over its timeout of {timeout:g}s")
            raise StepTimeoutError(
                f"{where} ran longer than its timeout of {timeout:g}s; the attempt failed and "
                "its thread was abandoned (Python cannot stop it); raise the timeout or make "
                "the step return sooner"
            )
    if "error" in box:
        raise box["error"]
    return box.get("value")


def abandon(thread: threading.Thread, why: str) -> None:
    """Count `thread` as abandoned (still running, no longer waited for) and say so."""
    with _lock:
        _abandoned.append(thread)
    alive = abandoned_alive()
    logger.warning(
        "abandoned a hung step thread (%s); %d abandoned thread(s) still running (cap %d)",
        why,
        alive,
        settings.DURABLE_MAX_ABANDONED_THREADS,
    )


def abandoned_alive() -> int:
    with _lock:
        _abandoned[:] = [thread for thread in _abandoned if thread.is_alive()]
        return len(_abandoned)


def over_cap() -> bool:
    """Whether so many hung threads linger that this process should take no more runs."""
    return abandoned_alive() >= settings.DURABLE_MAX_ABANDONED_THREADS
