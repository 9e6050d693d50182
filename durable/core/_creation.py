"""Creating runs: the one function every way a run comes to exist goes through.

`durable.start` (now, delayed, or as a child), `durable.client.start`, schedules (ticks,
trigger, backfill: they call `durable.start`), and restart and fork all describe the run
they want as a `NewRun` and call `create_run`, so every row is written by the same rules:

- **Deadline.** A run's timeout counts from its due time (`available_at`: now, or the
  moment a delayed start comes due), and the row keeps it in `timeout_seconds`, which a
  resume grants again from the moment it resumes. A restart or fork keeps its origin's
  `timeout_seconds` unless given one. A child never outlives its parent's deadline (its
  `timeout_seconds` is then what the parent left it).
- **Queue.** A declared queue's limits are in the database before its first run is.
- **Values.** Input and tags are JSON, checked at the call: a value that cannot be stored
  fails here, naming the workflow and run, and nothing is written.

What each creator decides itself is the version: the code's for `durable.start`, the
pinned one or "latest" for the client, the current code's (else the origin's) for restart
and fork. Starts go through `start_run` (idempotent on the run id, dispatched after
commit) and `start_child`; restart and fork call `create_run` on fresh ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from durable.core import _delays as delays
from durable.core import _dispatch as dispatching
from durable.core import _endings as endings
from durable.core import _runtime as runtime
from durable.core import store
from durable.core._context import RunContext
from durable.core._serialization import dumps, entry_input, roundtrip
from durable.errors import RunIdConflictError


@dataclass(frozen=True)
class NewRun:
    """A run to create; `timeout` is seconds from `due_at` (None: now)."""

    workflow: str
    version: str
    input: dict[str, Any]  # {"args": [...], "kwargs": {...}}
    queue: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    tags: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    timeout: float | None = None
    due_at: datetime | None = None
    max_recoveries: int | None = None
    dedup_id: str | None = None
    parent_id: str | None = None
    parent_deadline: datetime | None = None
    forked_from_id: str | None = None
    forked_from_step: int | None = None


def _no_declared_queues(queue: str | None) -> None:
    """Until `durable.queues` registers: no queue is declared, so none has limits to store."""


# Before a run enters a queue this process declares, the queue's limits are stored:
# `durable.queues.ensure_stored`, registered when the app is ready (`DurableConfig.ready`),
# so the core does not import the queues (which import it)
_store_declared_queue: Callable[[str | None], None] = _no_declared_queues


def store_declared_queues_with(ensure_stored: Callable[[str | None], None]) -> None:
    """Have `ensure_stored(queue)` run before each run enters `queue`."""
    global _store_declared_queue
    _store_declared_queue = ensure_stored


def create_run(new: NewRun) -> store.InsertedRun | None:
    """Write `new` as an ENQUEUED run (one statement); None if its id, or the active
    de-duplication id of its queue, is taken — then nothing is written."""
    return _insert(new, None)[0]


def _insert(
    new: NewRun, here: dispatching.LocalStart | None
) -> tuple[store.InsertedRun | None, str]:
    """The run created (or None) and its input as stored. With `here` (a thread of this
    process's executor held for it) a run the plain claim may take is inserted claimed."""
    where = f"workflow {new.workflow} run {new.run_id}"
    run_input = dumps(new.input, where=f"{where} input")
    tags = dumps(new.tags, where=f"{where} tags")
    _store_declared_queue(new.queue)  # its limits are in the database before its first run
    created = store.insert_run(
        run_id=new.run_id,
        workflow=new.workflow,
        version=new.version,
        input=run_input,
        tags=tags,
        queue=new.queue,
        priority=new.priority,
        timeout=new.timeout,  # the deadline rule is the statement's (store.INSERT_RUN)
        due_at=new.due_at,
        parent_deadline=new.parent_deadline,
        max_recoveries=new.max_recoveries,
        dedup_id=new.dedup_id,
        parent_id=new.parent_id,
        forked_from_id=new.forked_from_id,
        forked_from_step=new.forked_from_step,
        executor_id=None if here is None else here.executor_id,
        lease=0.0 if here is None else here.lease,
    )
    return created, run_input


def start_run(new: NewRun) -> str:
    """Create `new` and dispatch it after commit (a delayed run when it comes due). An
    existing run with its id is that run (run ids are idempotency keys), and so is the
    active run holding its `dedup_id`; an id taken by another workflow, or by a run that is
    not this parent's child, is refused. Started beside a thread executor that serves it,
    with a thread free, the run is claimed in its insert and starts on that thread at once."""
    created = _create(new)
    if created is not None:
        if created.claimed:  # on a thread of this process already
            return new.run_id
        if delays.is_future(new.due_at):  # no message now: polls (or the Celery sweep) take it
            dispatching.start_executor_on_commit()  # this process's thread pool polls
        else:
            dispatching.dispatch_on_commit(new.run_id)
        return new.run_id
    existing, existing_parent, imported = store.run_identity(new.run_id) or (None, None, False)
    if imported:  # a file's record is never the result of this start (docs/export-format.md)
        raise RunIdConflictError(
            f"run id {new.run_id!r} is taken by a run imported from a file (`durable "
            "import`), which is never adopted as this start's run; choose another id, or "
            "delete the imported run"
        )
    if existing is None and new.dedup_id is not None:
        holder = store.active_dedup_run(new.queue, new.dedup_id)
        return start_run(new) if holder is None else holder  # None: it just ended, id free
    if existing is not None and existing != new.workflow:
        raise RunIdConflictError(
            f"run id {new.run_id!r} is taken by a run of workflow {existing!r}, not "
            f"{new.workflow!r}; choose another id"
        )
    if new.parent_id is not None and existing is not None and existing_parent != new.parent_id:
        raise RunIdConflictError(  # a child start never adopts a run that is not its own
            f"run id {new.run_id!r} is taken by a run that is not a child of run "
            f"{new.parent_id}; choose another id for the child, or leave run_id out to get a "
            "derived one"
        )
    return new.run_id


def _create(new: NewRun) -> store.InsertedRun | None:
    """Create `new`; claimed in its insert and handed to a thread of this process held for
    it when its executor serves the run and has a thread free."""
    here = None if delays.is_future(new.due_at) else _held_thread(new)
    if here is None:
        return create_run(new)
    try:
        created, run_input = _insert(new, here)
    except BaseException:
        here.cancel()
        raise
    if created is not None and created.claimed:
        endings.began(new.run_id)  # result() here waits for its end to be told
        here.hand(_claimed(new, created, run_input))
    else:
        here.cancel()
    return created


def _held_thread(new: NewRun) -> dispatching.LocalStart | None:
    if not new.version:  # "latest": the claim stamps the version it runs
        return None
    return dispatching.local_start(new.run_id, new.workflow, new.version)


def _claimed(new: NewRun, created: store.InsertedRun, run_input: str) -> store.ClaimedRun:
    """The run as claim_run would have loaded it: no history yet; its input as stored."""
    return store.ClaimedRun(
        run_id=new.run_id,
        workflow=new.workflow,
        version=new.version,
        input=roundtrip(run_input),
        deadline_at=created.deadline_at,
        recorded={},
        prior_attempts={},
        attempts_before_resume=0,
    )


def start_child(parent: RunContext, new: NewRun, run_id: str | None) -> str:
    """Start `new` as a child of the running `parent`: recorded in its history, so a replay
    gets the same child instead of a second one; `run_id` None derives the child's id."""
    child_input = entry_input(
        new.input, where=f"workflow {parent.workflow.name} child {new.workflow} input"
    )
    return runtime.record_child(
        parent,
        new.workflow,
        lambda child_id: start_run(
            replace(
                new,
                run_id=child_id,
                parent_id=parent.run_id,
                parent_deadline=parent.deadline_at,
            )
        ),
        run_id,
        child_input,
    )


def kept_timeout(origin: Any) -> float | None:
    """The timeout a restart or fork of `origin` (a `durable.models.Run`) keeps: its
    `timeout_seconds`; for rows written before that column, its deadline's distance from
    its due time (from creation once it started: sleeps move `available_at`)."""
    if origin.timeout_seconds is not None or origin.deadline_at is None:
        return origin.timeout_seconds
    started = origin.created_at
    if origin.started_at is None and origin.available_at is not None:
        started = max(origin.created_at, origin.available_at)
    return max((origin.deadline_at - started).total_seconds(), 0.0)
