"""One place creates runs: every way a run comes to exist — `durable.start` (now, delayed, as
a child), `durable.client.start` (top level and as a child), a schedule's tick, trigger and
backfill, restart and fork — writes the row by the same rules.

The deadline rule, once: a run's timeout counts from its due time (its `available_at`);
`timeout_seconds` keeps it; a restart or fork keeps its origin's `timeout_seconds` unless
given one; a child never outlives its parent's deadline.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

import durable
from durable import client, operations, schedules
from durable.core import _clock as clock
from durable.models import AuditEntry, Run, RunStatus, StoredQueue
from durable.schedules import _declared as declared_schedules
from durable.schedules import _ticker as ticker
from tests.engine.processes import wait_for

QUEUE = durable.Queue("tests.creation.declared", concurrency=3)
OTHER_QUEUE = durable.Queue("tests.creation.other", concurrency=2)
TAGS = {"team": "billing", "order": 42}
DECLARED_TIMEOUT = 300.0
UNSERVED = "v-no-executor-has-it"  # a pinned version no executor serves: the run waits


@durable.workflow(
    name="tests.creation.job",
    version="v-code",
    queue=QUEUE,
    timeout=DECLARED_TIMEOUT,
    max_recoveries=4,
)
def job(label: str, *rest: Any) -> str:
    return label


@durable.workflow(name="tests.creation.parent")
def parent(how: str) -> str:
    """Starts one child the way `how` says and returns its id, without waiting for it."""
    if how == "client":
        started = client.start(
            "tests.creation.job", ["child"], tags=TAGS, timeout=60, version=UNSERVED,
            queue=OTHER_QUEUE.name, strict=False, max_recoveries=2,
        )  # fmt: skip
    else:
        started = durable.start(job, "child", tags=TAGS, timeout=60, queue=OTHER_QUEUE)
    return started.run_id


@dataclass
class Expected:
    """What a creator must have written, beside the rules every row obeys."""

    version: str
    queue: str
    timeout: float | None
    tags: dict[str, Any] = field(default_factory=dict)
    max_recoveries: int | None = 4
    priority: int = 0
    due_in: float = 0.0  # seconds from creation to the due time
    forked_from: str | None = None
    forked_from_step: int | None = None
    parent: str | None = None
    audit: str | None = None  # the audited action that created it


def _origin(run_id: str, **options: Any) -> str:
    """A finished run to restart or fork (on the external executor nothing runs it)."""
    durable.start(job, run_id, run_id=run_id, **options)
    Run.objects.filter(id=run_id).update(
        status=RunStatus.SUCCESS, started_at=clock.now(), finished_at=clock.now()
    )
    return run_id


def start_now() -> tuple[str, Expected]:
    durable.start(job, "a", run_id="c-now", tags=TAGS, timeout=60, priority=3)
    return "c-now", Expected("v-code", QUEUE.name, 60, TAGS, priority=3)


def start_with_the_declared_timeout() -> tuple[str, Expected]:
    durable.start(job, "a", run_id="c-declared")
    return "c-declared", Expected("v-code", QUEUE.name, DECLARED_TIMEOUT)


def start_delayed() -> tuple[str, Expected]:
    durable.start(job, "a", run_id="c-later", delay=3600, timeout=60, queue=OTHER_QUEUE)
    return "c-later", Expected("v-code", OTHER_QUEUE.name, 60, due_in=3600)


def client_start() -> tuple[str, Expected]:
    handle = client.start(
        "tests.creation.job", ["a"], tags=TAGS, timeout=90, queue=OTHER_QUEUE.name
    )
    return handle.run_id, Expected("", OTHER_QUEUE.name, 90, TAGS, max_recoveries=None)


def client_start_pinned_and_delayed() -> tuple[str, Expected]:
    handle = client.start("tests.creation.job", ["a"], version="v-old", delay=600,
                          strict=False, max_recoveries=1)  # fmt: skip
    # the client lacks the workflow's code: its queue and timeout are the defaults
    return handle.run_id, Expected("v-old", "default", None, max_recoveries=1, due_in=600)


def _schedule() -> str:
    schedules.create("tests.creation.every-minute", job, cron="* * * * *", args=["s"])
    return "tests.creation.every-minute"


def schedule_tick() -> tuple[str, Expected]:
    _schedule()
    due = clock.now().replace(second=1, microsecond=0) + timedelta(minutes=1)
    (run_id,) = ticker.fire_due(due)
    return run_id, Expected("v-code", QUEUE.name, DECLARED_TIMEOUT)


def schedule_trigger() -> tuple[str, Expected]:
    handle = schedules.trigger(_schedule())
    return handle.run_id, Expected("v-code", QUEUE.name, DECLARED_TIMEOUT)


def schedule_backfill() -> tuple[str, Expected]:
    end = clock.now().astimezone(UTC).replace(second=0, microsecond=0)
    started = schedules.backfill(_schedule(), end - timedelta(minutes=1), end).started
    return started[0], Expected("v-code", QUEUE.name, DECLARED_TIMEOUT)


def restart() -> tuple[str, Expected]:
    origin = _origin("c-origin-r", tags=TAGS, timeout=60)
    new_id = operations.restart(origin)
    # its origin's own timeout (60), not the 300 the workflow declares
    return new_id, Expected("v-code", QUEUE.name, 60, TAGS, forked_from=origin,
                            forked_from_step=0, audit="restart")  # fmt: skip


def restart_with_options() -> tuple[str, Expected]:
    origin = _origin("c-origin-ro", timeout=60)
    new_id = operations.restart(
        origin, new_run_id="c-chosen", queue=OTHER_QUEUE, timeout=120, priority=7
    )
    return new_id, Expected("v-code", OTHER_QUEUE.name, 120, forked_from=origin,
                            forked_from_step=0, audit="restart", priority=7)  # fmt: skip


def fork() -> tuple[str, Expected]:
    origin = _origin("c-origin-f", tags=TAGS, delay=3600, timeout=45, priority=2)
    new_id = operations.fork(origin, from_step=0)
    # its origin's timeout, counted from now: never the origin's delay on top
    return new_id, Expected("v-code", QUEUE.name, 45, TAGS, forked_from=origin,
                            forked_from_step=0, audit="fork", priority=2)  # fmt: skip


def _child(how: str) -> str:
    parent_id = f"c-parent-{how}"
    durable.start(parent, how, run_id=parent_id)
    wait_for(lambda: Run.objects.filter(parent_id=parent_id).exists(), 20, "the child")
    return Run.objects.get(parent_id=parent_id).id


def child_start() -> tuple[str, Expected]:
    child_id = _child("durable")
    return child_id, Expected("v-code", OTHER_QUEUE.name, 60, TAGS, parent="c-parent-durable")


def client_child_start() -> tuple[str, Expected]:
    child_id = _child("client")
    return child_id, Expected(UNSERVED, OTHER_QUEUE.name, 60, TAGS, max_recoveries=2,
                              parent="c-parent-client")  # fmt: skip


CREATORS: dict[str, Callable[[], tuple[str, Expected]]] = {
    creator.__name__: creator
    for creator in (
        start_now,
        start_with_the_declared_timeout,
        start_delayed,
        client_start,
        client_start_pinned_and_delayed,
        schedule_tick,
        schedule_trigger,
        schedule_backfill,
        restart,
        restart_with_options,
        fork,
        child_start,
        client_child_start,
    )
}
NEEDS_AN_EXECUTOR = {"child_start", "client_child_start"}  # a parent must run to start one


@pytest.fixture
def creating(transactional_db, settings, monkeypatch):
    monkeypatch.setattr(declared_schedules, "_schedules", {})  # none of another module

    def create(name: str) -> tuple[Run, Expected]:
        if name not in NEEDS_AN_EXECUTOR:
            settings.DURABLE_EXECUTOR = "external"  # the rows stay as they were created
        run_id, expected = CREATORS[name]()
        return Run.objects.get(id=run_id), expected

    return create


@pytest.mark.parametrize("name", CREATORS)
def test_every_creator_writes_a_run_by_the_same_rules(creating, name):
    run, expected = creating(name)
    assert (run.version, run.queue, run.tags) == (expected.version, expected.queue, expected.tags)
    assert (run.max_recoveries, run.priority) == (expected.max_recoveries, expected.priority)
    assert (run.parent_id, run.forked_from_id, run.forked_from_step) == (
        expected.parent,
        expected.forked_from,
        expected.forked_from_step,
    )
    _assert_due_and_deadline(run, expected)
    _assert_queue_limits_stored(run.queue)
    if expected.audit:
        entry = AuditEntry.objects.filter(action=expected.audit).get()
        assert run.forked_from_id in entry.run_ids


def _assert_due_and_deadline(run: Run, expected: Expected) -> None:
    """The one deadline rule: timeout_seconds after the due time (available_at)."""
    due_in = (run.available_at - run.created_at).total_seconds()
    assert expected.due_in - 2 < due_in < expected.due_in + 2
    assert run.timeout_seconds == expected.timeout
    if expected.timeout is None:
        assert run.deadline_at is None
        return
    assert (run.deadline_at - run.available_at).total_seconds() == pytest.approx(expected.timeout)


def _assert_queue_limits_stored(queue: str) -> None:
    """A declared queue's limits are in the database before its first run is."""
    declared = {QUEUE.name: 3, OTHER_QUEUE.name: 2}
    if queue in declared:
        assert StoredQueue.objects.get(name=queue).concurrency == declared[queue]


def test_a_derived_run_of_a_run_without_a_timeout_gets_none(creating, settings):
    settings.DURABLE_EXECUTOR = "external"
    origin = _origin("c-origin-none")
    Run.objects.filter(id=origin).update(timeout_seconds=None, deadline_at=None)
    new = Run.objects.get(id=operations.restart(origin))
    assert (new.timeout_seconds, new.deadline_at) == (None, None)


ENGINE = Path(__file__).resolve().parents[2] / "durable"


def _run_writes(path: Path) -> list[str]:
    """Where a module writes durable_run rows other than through the creation function:
    an INSERT statement, `Run.objects.create` / `bulk_create` / `get_or_create`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "INSERT INTO durable_run " in node.value or "INSERT INTO durable_run(" in node.value:
                found.append(f"{path.relative_to(ENGINE)}: INSERT INTO durable_run")
        elif isinstance(node, ast.Attribute) and node.attr in (
            "create", "bulk_create", "get_or_create", "update_or_create"
        ):  # fmt: skip
            owner = node.value
            if isinstance(owner, ast.Attribute) and ast.unparse(owner) == "Run.objects":
                found.append(f"{path.relative_to(ENGINE)}: Run.objects.{node.attr}")
    return found


def test_one_statement_in_the_engine_inserts_runs():
    """Importing an export restores recorded rows (`durable.debugging.importing`): it
    creates no new run, so it is the one other writer."""
    modules = [path for path in sorted(ENGINE.rglob("*.py")) if "migrations" not in path.parts]
    writes = [write for path in modules for write in _run_writes(path)]
    assert writes == [
        "core/store/_runs.py: INSERT INTO durable_run",
        "debugging/importing.py: Run.objects.bulk_create",
    ]
