"""Where runs execute: an in-process thread pool (default) or Celery workers.

`dispatch` is called after the transaction that created or re-enqueued a run commits.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from django.core.exceptions import ImproperlyConfigured

from durable.core.conf import settings

if TYPE_CHECKING:
    from durable.core._dispatch import LocalStarter


class Executor(Protocol):
    executor_id: str

    def dispatch(self, run_id: str) -> None: ...

    def shutdown(self, wait: bool = True) -> None: ...


_executor: Executor | None = None
_lock = threading.Lock()


def get_executor() -> Executor:
    """The process's executor, started on first use."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = _create(settings.DURABLE_EXECUTOR)
        return _executor


def _create(kind: str) -> Executor:
    if kind == "thread":
        from durable.executors.thread import ThreadExecutor

        executor = ThreadExecutor()
        executor.start()
        return executor
    if kind == "celery":
        return _celery_dispatcher()
    if kind == "external":
        from durable.executors.external import ExternalDispatcher

        return ExternalDispatcher()
    raise ValueError(f"DURABLE_EXECUTOR must be 'thread', 'celery' or 'external', not {kind!r}")


def _celery_dispatcher() -> Executor:
    try:
        from durable.executors.celery import CeleryDispatcher
    except ModuleNotFoundError as missing:  # the optional [celery] extra
        raise ImproperlyConfigured(
            f"DURABLE_EXECUTOR is 'celery' but {missing.name} is not installed: pip install "
            "'django-durable-runs[celery]', or use DURABLE_EXECUTOR='thread'"
        ) from missing
    return CeleryDispatcher()


def start_thread_executor(threads: int | None = None) -> Executor:
    """Make this process execute runs in threads, whatever DURABLE_EXECUTOR says (workers)."""
    global _executor
    from durable.executors.thread import ThreadExecutor

    with _lock:
        if not isinstance(_executor, ThreadExecutor):
            executor = ThreadExecutor(threads=threads)
            executor.start()
            _executor = executor
        return _executor


def leave_runs_to_workers() -> None:
    """In a short-lived process (a CLI command), never start a thread executor that would
    claim runs and die with the process: runs wait for a worker or demo process instead."""
    global _executor
    from durable.executors.external import ExternalDispatcher

    with _lock:
        if _executor is None and settings.DURABLE_EXECUTOR == "thread":
            _executor = ExternalDispatcher()


def dispatch(run_id: str) -> None:
    get_executor().dispatch(run_id)


def local_starter() -> LocalStarter | None:
    """The running thread executor of this process, which takes new runs at their insert
    (`durable.core._dispatch.local_start`); None before one started, or with Celery."""
    from durable.executors.thread import ThreadExecutor

    executor = _executor
    return executor if isinstance(executor, ThreadExecutor) else None


def shutdown(wait: bool = True) -> None:
    """Stop the process's executor (tests, and the worker command on exit)."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=wait)
