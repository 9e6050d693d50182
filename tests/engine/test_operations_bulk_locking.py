"""Bulk operations over the same runs, at the same time, both finish and never deadlock."""

from __future__ import annotations

import random
import threading
import uuid

from django.db import connection
from django.utils import timezone

from durable import operations
from durable.models import Run, Step


def _failed_runs(count: int) -> list[str]:
    now = timezone.now()
    ids = [uuid.uuid4().hex for _ in range(count)]
    Run.objects.bulk_create(
        Run(
            id=run_id,
            workflow="not.registered",
            status="ERROR",
            input={"args": []},
            finished_at=now,
            steps_done=1,
        )  # fmt: skip
        for run_id in ids
    )
    created = dict(Run.objects.filter(id__in=ids).values_list("id", "created_at"))
    Step.objects.bulk_create(
        Step(
            run_id=run_id,
            position=0,
            name="s",
            status="ERROR",
            started_at=now,
            finished_at=now,
            run_created_at=created[run_id],
        )  # fmt: skip
        for run_id in ids
    )
    return ids


def _in_thread(target, results: dict, key: str, name: str | None = None) -> threading.Thread:
    def run() -> None:
        try:
            results[key] = target()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def test_two_bulk_resumes_of_the_same_thousand_runs_both_finish(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"  # nothing executes them: only the locking is tested
    ids = _failed_runs(1000)
    shuffled = random.Random(7).sample(ids, len(ids))
    results: dict = {}
    threads = [
        _in_thread(lambda: operations.resume(ids, actor="a"), results, "a"),
        _in_thread(lambda: operations.resume(shuffled, actor="b"), results, "b"),
    ]
    for thread in threads:
        thread.join(60)
    a, b = results["a"], results["b"]
    assert isinstance(a, operations.BulkResult), a
    assert isinstance(b, operations.BulkResult), b
    assert set(a.done).isdisjoint(b.done)  # each run resumed once
    assert set(a.done) | set(b.done) == set(ids)
    assert Run.objects.filter(status="ENQUEUED").count() == 1000


def _blocked_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def test_a_bulk_operation_locks_runs_in_id_order_so_it_never_deadlocks(transactional_db, settings):
    """Rows stored in another order than their ids ('lock-b' first): a bulk resume must
    still take 'lock-a' before 'lock-b', as any other operation over the same runs does."""
    from django.db import transaction

    from tests.engine.processes import wait_for

    settings.DURABLE_EXECUTOR = "external"
    now = timezone.now()
    for run_id in ("lock-b", "lock-a"):
        Run.objects.create(id=run_id, workflow="not.registered", status="ERROR", finished_at=now)
    holding, release = threading.Event(), threading.Event()

    def other_operation() -> str:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '5s'")
            cursor.execute("SELECT id FROM durable_run WHERE id = 'lock-a' FOR UPDATE")
            holding.set()
            release.wait(10)
            cursor.execute("SELECT id FROM durable_run WHERE id = 'lock-b' FOR UPDATE")
        return "finished"

    results: dict = {}
    threads = [_in_thread(other_operation, results, "other")]
    assert holding.wait(10)
    threads.append(_in_thread(lambda: operations.resume(["lock-a", "lock-b"]), results, "bulk"))
    wait_for(_blocked_on_a_lock, 10, "the bulk resume to wait for the other operation")
    release.set()
    for thread in threads:
        thread.join(20)
    assert results["other"] == "finished"
    assert isinstance(results["bulk"], operations.BulkResult), results["bulk"]
    assert set(results["bulk"].done) == {"lock-a", "lock-b"}


def test_bulk_cancels_crossing_tree_levels_both_finish(transactional_db, settings, monkeypatch):
    """A child named by its caller ('a-child') sorts before its parent ('p-parent'): one
    cancel locks the parent then its child, the other both in id order. PostgreSQL breaks
    that deadlock; the loser runs its batch again and both finish."""
    from durable.core import _lineage as lineage
    from tests.engine.processes import wait_for

    settings.DURABLE_EXECUTOR = "external"
    parent = Run.objects.create(id="p-parent", workflow="not.registered", status="ENQUEUED")
    Run.objects.create(id="a-child", workflow="not.registered", status="ENQUEUED", parent=parent)
    parent_locked, release = threading.Event(), threading.Event()
    real_lock_descendants = lineage.lock_descendants

    def pause_after_the_roots(run_ids, **kwargs):
        if threading.current_thread().name == "parent-first":
            parent_locked.set()
            release.wait(10)
        return real_lock_descendants(run_ids, **kwargs)

    monkeypatch.setattr(lineage, "lock_descendants", pause_after_the_roots)
    results: dict = {}
    first = _in_thread(lambda: operations.cancel(["p-parent"]), results, "first", "parent-first")
    assert parent_locked.wait(10)
    second = _in_thread(lambda: operations.cancel(["a-child", "p-parent"]), results, "second")
    wait_for(_blocked_on_a_lock, 10, "the second cancel to wait for the parent")
    release.set()
    first.join(20)
    second.join(20)
    assert isinstance(results["first"], operations.BulkResult), results["first"]
    assert isinstance(results["second"], operations.BulkResult), results["second"]
    assert set(Run.objects.values_list("status", flat=True)) == {"CANCELLED"}
