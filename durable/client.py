"""Start and drive runs by workflow name, from a process that does not have their code.

The microservice case: a web tier enqueues `"orders.process_order"`, a worker service that
imports `orders` executes it. Nothing here imports or registers workflow code; every call
is a few statements on the shared database.

Versions: a run started without `version=` is stored with no version ("latest") and any
executor that has the workflow may claim it; the first claim stamps that executor's code
version on the run (`durable.core.store.STAMP_VERSION`), so later recoveries and resumes replay
on the same code, exactly as for a run started with the code. `version="abc123"` pins it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from durable import operations
from durable.core import _context as context
from durable.core import _creation as creation
from durable.core import _delays as delays
from durable.core import _validation as validation
from durable.core._by_name import LATEST, require_known
from durable.core._start import RunHandle
from durable.errors import InvalidArgumentError
from durable.primitives import _messaging as messaging


class ClientRunHandle(RunHandle):
    """A run handle with the calls a process without the workflow's code makes on it."""

    def get_event(self, key: str, timeout: float = messaging.DEFAULT_TIMEOUT) -> Any:
        return get_event(self.run_id, key, timeout=timeout)

    def send(
        self, message: Any, topic: str | None = None, idempotency_key: str | None = None
    ) -> None:
        send(self.run_id, message, topic=topic, idempotency_key=idempotency_key)

    def cancel(self, reason: str = "") -> None:
        cancel(self.run_id, reason=reason)


@context.at_call_in_async_runs
def start(
    workflow: str,
    args: list[Any] | tuple[Any, ...] | None = None,
    kwargs: dict[str, Any] | None = None,
    *,
    run_id: str | None = None,
    queue: str | None = None,
    tags: dict[str, Any] | None = None,
    priority: int = 0,
    timeout: float | None = None,
    dedup_id: str | None = None,
    version: str | None = None,
    strict: bool = True,
    delay: timedelta | float | None = None,
    at: datetime | None = None,
    max_recoveries: int | None = None,
) -> ClientRunHandle:
    """Start a run of the workflow registered as `workflow` in some worker (idempotent on
    `run_id`, like `durable.start`); `version` pins a code version, else the latest serves.

    The run goes on `queue`, else "default": the workflow's own `queue=`/`timeout=` live in
    code this process does not have. With `strict`, a name that no executor ever served
    and no run ever had is refused (a typo would otherwise wait forever); `strict=False`
    enqueues it anyway and the health page lists it as stranded until a worker has it.
    `delay` / `at` / `max_recoveries` are `durable.start`'s; without `max_recoveries` the
    run gets DURABLE_MAX_RECOVERIES (the workflow's own is in code this process lacks).
    """
    name = validation.text("workflow", workflow, max_length=300, optional=False)
    pinned = validation.text("version", version, max_length=100) or LATEST
    args, kwargs = _arguments(args, kwargs)
    if run_id is not None:
        validation.validate_new_run_id(run_id)
    # all a start needs of a workflow this process cannot import: its name and version pin
    new = creation.NewRun(
        workflow=name,
        version=pinned,
        input={"args": list(args), "kwargs": kwargs},
        queue=validation.text("queue", queue) or "default",  # its own queue= is in its code
        run_id=run_id or uuid.uuid4().hex,
        tags=validation.tags(tags) or {},
        priority=validation.priority(priority),
        timeout=validation.timeout(timeout),
        due_at=delays.due_at(delay, at),
        max_recoveries=validation.max_recoveries(max_recoveries),
        dedup_id=validation.text("dedup_id", dedup_id),
    )
    if strict:
        require_known(name, pinned)
    parent = context.current()
    if parent is None or parent.in_step:
        return ClientRunHandle(creation.start_run(new))
    return ClientRunHandle(creation.start_child(parent, new, run_id))


def _arguments(args: Any, kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if args is not None and not isinstance(args, list | tuple):
        raise InvalidArgumentError("args", f"must be a list, not {type(args).__name__}")
    if kwargs is not None and not (
        isinstance(kwargs, dict) and all(isinstance(key, str) for key in kwargs)
    ):
        raise InvalidArgumentError("kwargs", "must be a dict with string keys")
    return tuple(args or ()), dict(kwargs or {})


def send(
    run_id: str, message: Any, topic: str | None = None, idempotency_key: str | None = None
) -> None:
    """Send `message` to run `run_id` (it waits until the run `recv`s it); a retried send
    with the same `idempotency_key` is delivered once."""
    messaging.send(run_id, message, topic=topic, idempotency_key=idempotency_key)


def get_event(run_id: str, key: str, timeout: float = messaging.DEFAULT_TIMEOUT) -> Any:
    """The value run `run_id` published under `key`, waiting up to `timeout`; else None."""
    return messaging.get_event(run_id, key, timeout=timeout)


def result(run_id: str, timeout: float | None = None) -> Any:
    """Wait for run `run_id` to end; return its output or raise its error (an error class
    this process cannot import comes back as `durable.errors.WorkflowError`)."""
    return retrieve(run_id).result(timeout=timeout)


def status(run_id: str) -> str:
    return retrieve(run_id).status()


def cancel(run_id: str, reason: str = "") -> None:
    """Cancel run `run_id` and its children, audited like the operator action
    (`OperationRefused` says why when the run has already ended)."""
    operations.cancel(validation.validate_run_id(run_id), reason=reason)


def retrieve(run_id: str) -> ClientRunHandle:
    """A handle to an existing run (RunNotFoundError if there is none)."""
    handle = ClientRunHandle(validation.validate_run_id(run_id))
    handle.status()
    return handle
