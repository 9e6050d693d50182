"""Fair scheduling: one queue's backlog never starves the runs of other queues."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

import durable
from durable import executors, queues
from durable.core import store
from durable.core.store import _queues as store_queues
from durable.executors import _sweeper as sweeper
from durable.executors.thread import ThreadExecutor
from durable.models import Executor, Run, StoredQueue
from tests.engine.celery_processes import create_span_table
from tests.engine.celery_workflows import per_worker
from tests.engine.processes import wait_for
from tests.engine.workflows import sum_three


def test_a_worker_concurrency_backlog_does_not_starve_other_queues(
    side_effects, settings, monkeypatch
):
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_POLL_SECONDS = 0.1
    create_span_table()
    for index in range(12):
        durable.start(per_worker, f"backlog-{index}", 0.3, run_id=f"backlog-{index}")
    executors.start_thread_executor(threads=4)
    wait_for(
        lambda: Run.objects.filter(id__startswith="backlog-", status="RUNNING").exists(),
        10,
        "the backlog to start",
    )
    assert _seconds_for_unrelated_run(monkeypatch, "unrelated") < 1.5  # the backlog: 3.6 s


def _seconds_for_unrelated_run(monkeypatch, run_id: str) -> float:
    """Seconds a run of the plain queue takes to finish when it was started by another
    process: nothing hands it to this one's executor, whose poll has to find it."""
    started = time.monotonic()
    with monkeypatch.context() as patch:
        patch.setattr(executors, "dispatch", lambda run_id: None)
        handle = durable.start(sum_three, 1, 2, 3, run_id=run_id)
    assert handle.result(timeout=10) == 6
    return time.monotonic() - started


class CountingDispatcher:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def dispatch(self, run_id: str) -> None:
        self.sent.append(run_id)


def _waiting_backlog_and_two_celery_workers() -> None:
    for index in range(40):
        durable.start(per_worker, f"wait-{index}", 0, run_id=f"wait-{index}")
    Run.objects.filter(id__startswith="wait-").update(
        updated_at=timezone.now() - timedelta(seconds=5)
    )
    store.heartbeat(executor_id="celery:a", kind="celery", hostname="h", pid=1, workflows=[])
    store.heartbeat(executor_id="celery:b", kind="celery", hostname="h", pid=2, workflows=[])


def _sweep_messages(monkeypatch) -> list[str]:
    dispatcher = CountingDispatcher()
    seen: list[tuple] = []  # what the sweep itself read and marked, for the failure message

    def recording(owner, name):
        original = getattr(owner, name)

        def record(*args, **kwargs):
            result = original(*args, **kwargs)
            seen.append((name, args, result))
            return result

        monkeypatch.setattr(owner, name, record)

    for name in ("special", "free_slots", "worker_room"):
        recording(queues, name)
    recording(store_queues, "mark_queue_heads")
    recording(store, "mark_due_undispatched")
    counts = sweeper.sweep_once(dispatcher)
    if len(dispatcher.sent) != 2:
        executors = Executor.objects.values_list("id", "kind", "pid", "last_seen_at")
        pytest.fail(
            f"sent {len(dispatcher.sent)} messages, not 2: {dispatcher.sent}; sweep counts "
            f"{counts}; the sweep read and marked {seen}; executors after {list(executors)}; "
            f"queues after {list(StoredQueue.objects.values())}; runs after "
            f"{sorted(Run.objects.values_list('id', 'status', 'updated_at'))}"
        )
    return dispatcher.sent


def test_the_sweep_wakes_a_worker_concurrency_backlog_only_as_far_as_workers_have_room(
    transactional_db, settings, monkeypatch
):
    settings.DURABLE_EXECUTOR = "external"
    _waiting_backlog_and_two_celery_workers()
    # the two workers are the only live ones: an executor row another test's worker wrote
    # (every live Celery executor's room counts) would widen the room this test measures
    Executor.objects.exclude(id__in=["celery:a", "celery:b"]).update(
        last_seen_at=timezone.now() - timedelta(hours=1)
    )
    # two live workers with worker_concurrency=1 each: two messages, not forty
    assert len(_sweep_messages(monkeypatch)) == 2


def test_executors_that_take_no_celery_messages_give_the_sweep_no_room(
    transactional_db, settings, monkeypatch
):
    """The sweep's messages go to Celery workers: a thread executor (or a worker process of
    one) polls PostgreSQL and never takes them, so its room does not count."""
    settings.DURABLE_EXECUTOR = "external"
    _waiting_backlog_and_two_celery_workers()
    for index in range(3):
        store.heartbeat(executor_id=f"thread:h:{index}", kind="thread", hostname="h",
                        pid=10 + index, workflows=[])  # fmt: skip
    assert len(_sweep_messages(monkeypatch)) == 2


RANKED_BACKLOG = durable.Queue("tests-fair-ranked", priority=True)


@durable.workflow(name="tests.fair.ranked", queue=RANKED_BACKLOG.name)
def ranked_busy(seconds: float) -> None:
    time.sleep(seconds)


def _unrelated_run_after_ranked_backlog(
    settings, monkeypatch, runs: int, threads: int, prefix: str
) -> float:
    """Seconds an unrelated run, found by the poll, takes to finish behind a backlog of
    `runs` 0.3 s runs of a priority queue on `threads` threads."""
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_POLL_SECONDS = 0.1
    for index in range(runs):
        durable.start(ranked_busy, 0.3, run_id=f"{prefix}-{index}", priority=5)
    executors.start_thread_executor(threads=threads)
    wait_for(
        lambda: Run.objects.filter(id__startswith=f"{prefix}-", status="RUNNING").exists(),
        10,
        "the backlog to start",
    )
    return _seconds_for_unrelated_run(monkeypatch, f"unrelated-{prefix}")


def test_a_priority_queue_backlog_takes_threads_in_turn_with_other_queues(
    transactional_db, settings, monkeypatch
):
    waited = _unrelated_run_after_ranked_backlog(settings, monkeypatch, 20, 2, "ranked")
    assert waited < 1.5  # the backlog alone takes 3 s


def test_one_thread_freed_at_a_time_still_serves_the_queues_in_turn(
    transactional_db, settings, monkeypatch
):
    """Threads come free one at a time whenever runs end at different moments (any load
    does that): each poll then takes one run, and the turn must go on from the queue the
    last poll took from, or the first queue's backlog always goes first."""
    waited = _unrelated_run_after_ranked_backlog(settings, monkeypatch, 10, 1, "ranked-one")
    # its turn comes after the run in flight and at most one more: the backlog takes 3 s
    assert waited < 1.2


WIDE_LIMITED = durable.Queue("tests-fair-wide-limited", concurrency=10)


@durable.workflow(name="tests.fair.wide_limited", queue=WIDE_LIMITED.name)
def wide_limited_busy(seconds: float) -> None:
    time.sleep(seconds)


def test_a_limited_queue_backlog_does_not_keep_its_threads_from_other_queues(
    transactional_db, settings, monkeypatch
):
    """A thread whose run of a limited queue ends takes that queue's next run at once (a
    freed slot would otherwise wait for a poll); it stops doing so when a run of another
    queue is waiting, or a backlog wider than the executor holds every thread until it
    is empty."""
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_POLL_SECONDS = 0.1
    for index in range(20):
        durable.start(wide_limited_busy, 0.3, run_id=f"wide-{index}")
    executors.start_thread_executor(threads=2)
    wait_for(
        lambda: Run.objects.filter(id__startswith="wide-", status="RUNNING").count() == 2,
        10,
        "the backlog to fill both threads",
    )
    # its turn comes once a run in flight ends: the backlog alone takes 3 s
    assert _seconds_for_unrelated_run(monkeypatch, "unrelated-wide") < 1.2


def test_a_limited_queue_alone_takes_its_next_run_without_waiting_for_a_poll(
    transactional_db, settings
):
    """With nothing else waiting, the thread whose run of a limited queue ended takes the
    queue's next run at once: the slot it freed does not wait for the next poll."""
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_POLL_SECONDS = 5.0
    for index in range(4):
        durable.start(wide_limited_busy, 0.05, run_id=f"alone-{index}")
    started = time.monotonic()
    executors.start_thread_executor(threads=1)  # its first poll takes one run
    wait_for(
        lambda: Run.objects.filter(id__startswith="alone-", status="SUCCESS").count() == 4,
        10,
        "the queue's four runs to finish",
    )
    assert time.monotonic() - started < 3  # a poll for each run would take 15 s


def test_a_queue_whose_every_head_a_poll_took_still_counts_as_waiting_when_more_wait(
    transactional_db, settings
):
    """A poll with one free thread takes one run of the plain queue; two more wait behind
    it, so a thread chaining a limited queue must still give way to them."""
    settings.DURABLE_EXECUTOR = "external"
    for index in range(3):
        durable.start(sum_three, 1, 2, index, run_id=f"behind-{index}")
    executor = ThreadExecutor(threads=1)  # not started: only its choice is looked at
    executor._set_workflows()
    assert executor._due_runs(1) == ["behind-0"]
    assert executor._others_waiting(WIDE_LIMITED.name)
