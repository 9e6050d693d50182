"""Queue limits live in PostgreSQL: they hold in processes that never imported the queue's
declaration, and operators change them at run time (durable.queues._limits)."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import durable
from durable import queues
from durable.core import _runtime as runtime
from durable.errors import InvalidArgumentError, UnknownQueueError
from durable.models import AuditEntry, Run, RunStatus, StoredQueue
from durable.queues import _limits as queue_limits
from durable.queues._limits import Limits
from tests.engine import celery_processes
from tests.engine.celery_processes import create_span_table, max_overlap
from tests.engine.processes import start_worker, stop, wait_for
from tests.engine.undeclared_queue_workflows import CONCURRENT, RATED, concurrent, rated
from tests.tiers import examples

# Declared here only: the worker subprocesses import undeclared_queue_workflows, not this.
CONCURRENT_QUEUE = durable.Queue(CONCURRENT, concurrency=2)
RATED_QUEUE = durable.Queue(RATED, rate_limit=(3, 1.0))
WORKER_MODULES = "tests.engine.undeclared_queue_workflows"
WORKFLOWS = ["tests.stored.concurrent", "tests.stored.rated"]
celery_cluster = celery_processes.celery_cluster


@pytest.fixture
def waiting_runs(transactional_db, settings):
    """Runs started here stay ENQUEUED until the test (or a worker process) claims them."""
    settings.DURABLE_EXECUTOR = "external"

    def start(workflow, count: int, *args, prefix: str) -> list[str]:
        return [
            durable.start(workflow, f"{prefix}-{i}", *args, run_id=f"{prefix}-{i}").run_id
            for i in range(count)
        ]

    return start


def claims(run_ids: list[str], executor_id: str = "executor-a") -> list[str]:
    return [rid for rid in run_ids if runtime.claim(rid, executor_id, WORKFLOWS) is not None]


def finished(prefix: str) -> int:
    return Run.objects.filter(id__startswith=prefix, status=RunStatus.SUCCESS).count()


def most_claims_in_a_window(queue: str, seconds: float) -> int:
    """The most claims of the queue inside any window of `seconds` ending at a claim."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max((SELECT count(*) FROM durable_run o WHERE o.queue = r.queue"
            " AND o.claimed_at > r.claimed_at - make_interval(secs => %s)"
            " AND o.claimed_at <= r.claimed_at)) FROM durable_run r WHERE r.queue = %s",
            [seconds, queue],
        )
        return cursor.fetchone()[0] or 0


def test_a_run_of_a_declared_queue_finds_its_limits_stored(waiting_runs):
    waiting_runs(concurrent, 1, 0, prefix="stored")
    row = StoredQueue.objects.get(name=CONCURRENT)
    assert (row.concurrency, row.worker_concurrency, row.rate_count) == (2, None, None)
    assert row.declared == CONCURRENT_QUEUE.as_dict()
    assert row.declared_in == __name__
    assert row.declared_at is not None and row.override is None


def test_a_process_that_forgot_the_declaration_claims_within_the_stored_limit(
    waiting_runs, monkeypatch
):
    run_ids = waiting_runs(concurrent, 4, 0, prefix="forgot")
    monkeypatch.setattr(queues, "_queues", {})  # this process no longer knows the queue
    assert claims(run_ids) == run_ids[:2]
    assert claims(run_ids[2:], "executor-b") == []


def test_a_queue_nobody_declared_or_set_has_no_limits(waiting_runs):
    run_ids = [
        durable.start(rated, f"free-{i}", run_id=f"free-{i}", queue="tests-stored-nobody").run_id
        for i in range(5)
    ]
    assert claims(run_ids) == run_ids
    assert not StoredQueue.objects.filter(name="tests-stored-nobody").exists()


def test_a_limit_changed_at_run_time_applies_to_the_next_claim(waiting_runs):
    run_ids = waiting_runs(concurrent, 6, 0, prefix="change")
    assert claims(run_ids) == run_ids[:2]
    queues.set_limits(CONCURRENT, concurrency=4)
    assert claims(run_ids[2:]) == run_ids[2:4]
    queues.set_limits(CONCURRENT, concurrency=None)  # no limit left: the plain claim
    assert claims(run_ids[4:]) == run_ids[4:]


def test_a_rate_limit_set_at_run_time_holds_for_a_queue_without_one(waiting_runs):
    run_ids = waiting_runs(concurrent, 4, 0, prefix="newrate")
    queues.set_limits(CONCURRENT, concurrency=None, rate_limit=(1, 3600))
    assert claims(run_ids) == run_ids[:1]


def test_an_override_wins_over_declarations_until_it_is_reset(waiting_runs):
    waiting_runs(concurrent, 1, 0, prefix="over")
    queues.set_limits(CONCURRENT, concurrency=5, actor="ops")
    queues.forget_stored()
    queues.store_declared()  # a new deploy declares concurrency=2 again
    assert queue_limits.stored(CONCURRENT).concurrency == 5
    row = StoredQueue.objects.get(name=CONCURRENT)
    assert (row.override, row.overridden_by) == ({"concurrency": 5}, "ops")
    assert queues.reset_limits(CONCURRENT).concurrency == 2
    assert StoredQueue.objects.get(name=CONCURRENT).override is None


def test_an_override_of_one_limit_keeps_the_declared_others(transactional_db):
    queue_limits.declare(Limits("tests-stored-mixed", concurrency=3, rate_limit=(10, 60.0)))
    limits = queues.set_limits("tests-stored-mixed", rate_limit=(2, 1))
    assert limits == Limits("tests-stored-mixed", concurrency=3, rate_limit=(2, 1.0))
    queue_limits.declare(Limits("tests-stored-mixed", concurrency=7, rate_limit=(10, 60.0)))
    assert queue_limits.stored("tests-stored-mixed") == Limits(
        "tests-stored-mixed", concurrency=7, rate_limit=(2, 1.0)
    )


def test_the_last_of_two_different_declarations_wins_with_a_warning_until_they_agree(
    transactional_db, caplog
):
    queue_limits.declare(Limits("tests-stored-two", concurrency=2), "app.v1")
    with caplog.at_level(logging.WARNING, logger="durable"):
        queue_limits.declare(Limits("tests-stored-two", concurrency=5), "app.v2")
    assert queue_limits.stored("tests-stored-two").concurrency == 5
    notice = StoredQueue.objects.get(name="tests-stored-two").notice
    assert "app.v1" in notice and "app.v2" in notice and "last declaration wins" in notice
    assert "last declaration wins" in caplog.text
    queue_limits.declare(Limits("tests-stored-two", concurrency=5), "app.v2")  # all on v2
    assert StoredQueue.objects.get(name="tests-stored-two").notice == ""


def test_changing_limits_is_audited_with_before_and_after(waiting_runs):
    waiting_runs(concurrent, 1, 0, prefix="audit")
    queues.set_limits(CONCURRENT, concurrency=9, actor="ops", reason="vendor raised quota")
    queues.reset_limits(CONCURRENT, actor="ops")
    entries = AuditEntry.objects.filter(actor="ops").order_by("id")
    assert [entry.action for entry in entries] == ["queue_set_limits", "queue_reset_limits"]
    first = entries[0].detail
    assert (first["queue"], first["before"]["concurrency"], first["after"]["concurrency"]) == (
        CONCURRENT,
        2,
        9,
    )
    assert first["reason"] == "vendor raised quota"


def test_resetting_a_queue_that_is_not_stored_says_how_to_list_them(transactional_db):
    with pytest.raises(UnknownQueueError, match="durable queues list"):
        queues.reset_limits("tests-stored-unknown")


BAD_COUNTS = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=2**31),
    st.floats(),
    st.text(max_size=5),
    st.booleans(),
)
BAD_RATES = st.one_of(
    st.tuples(st.integers(max_value=0), st.floats(min_value=1, max_value=60)),
    st.tuples(st.integers(min_value=1, max_value=100), st.floats(max_value=0)),
    st.tuples(st.integers(min_value=1), st.just(float("nan"))),
    st.tuples(st.integers(min_value=1, max_value=9), st.floats(min_value=4e9)),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(min_value=1, max_value=9), min_size=3, max_size=3),
)


@hypothesis_settings(max_examples=examples(60), deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(field=st.sampled_from(["concurrency", "worker_concurrency"]), value=BAD_COUNTS)
def test_a_bad_count_is_refused_with_a_clear_error_and_nothing_stored(db, field, value):
    with pytest.raises(InvalidArgumentError, match=field):
        queues.set_limits("tests-stored-bad", **{field: value})
    assert not StoredQueue.objects.filter(name="tests-stored-bad").exists()


@hypothesis_settings(max_examples=examples(60), deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(value=BAD_RATES)
def test_a_bad_rate_limit_is_refused_with_a_clear_error_and_nothing_stored(db, value):
    with pytest.raises(InvalidArgumentError, match="rate_limit"):
        queues.set_limits("tests-stored-bad", rate_limit=value)
    assert not StoredQueue.objects.filter(name="tests-stored-bad").exists()


@hypothesis_settings(max_examples=examples(40), deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    concurrency=st.none() | st.integers(1, 2**31 - 1),
    per_worker=st.none() | st.integers(1, 2**31 - 1),
    rate=st.none() | st.tuples(st.integers(1, 2**31 - 1), st.floats(0.001, 3.1e9)),
    priority=st.booleans(),
)
def test_valid_limits_are_stored_as_given(db, concurrency, per_worker, rate, priority):
    limits = queues.set_limits("tests-stored-any", concurrency=concurrency,
                               worker_concurrency=per_worker, rate_limit=rate,
                               priority=priority)  # fmt: skip
    expected = Limits("tests-stored-any", concurrency, per_worker, rate, priority)
    assert limits == expected == queue_limits.stored("tests-stored-any")


@pytest.mark.slow  # a real worker process; in the fast tier, claims in process hold the same limits
def test_a_worker_process_without_the_declaration_keeps_the_stored_concurrency(
    waiting_runs, side_effects
):
    create_span_table()
    waiting_runs(concurrent, 8, 0.2, prefix="proc")
    worker = start_worker(DURABLE_MODULES=WORKER_MODULES)  # 4 threads
    try:
        wait_for(lambda: finished("proc-") == 8, 60, "the runs in the worker process")
    finally:
        output = stop(worker)
    assert max_overlap() == CONCURRENT_QUEUE.concurrency, output[-2000:]


@pytest.mark.slow  # a real worker process; in the fast tier, claims in process hold the same limits
def test_a_worker_process_without_the_declaration_keeps_the_stored_rate_limit(
    waiting_runs, side_effects
):
    waiting_runs(rated, 7, prefix="paced")
    worker = start_worker(DURABLE_MODULES=WORKER_MODULES)
    try:
        wait_for(lambda: finished("paced-") == 7, 60, "the rated runs in the worker process")
    finally:
        output = stop(worker)
    assert most_claims_in_a_window(RATED, 1.0) == 3, output[-2000:]


@pytest.mark.slow  # a real worker process; in the fast tier, claims in process hold the same limits
def test_a_limit_lowered_while_a_worker_process_runs_holds_from_then_on(waiting_runs, side_effects):
    create_span_table()
    worker = start_worker(DURABLE_MODULES=WORKER_MODULES)
    try:
        waiting_runs(concurrent, 6, 0.2, prefix="before")
        wait_for(lambda: finished("before-") == 6, 60, "the first runs in the worker process")
        assert max_overlap() == 2  # the declared limit, reached
        queues.set_limits(CONCURRENT, concurrency=1)  # the worker process keeps running
        create_span_table()
        waiting_runs(concurrent, 6, 0.1, prefix="after")
        wait_for(lambda: finished("after-") == 6, 60, "the later runs in the worker process")
    finally:
        output = stop(worker)
    assert max_overlap() == 1, output[-2000:]


@pytest.mark.slow
def test_celery_workers_without_the_declaration_keep_the_stored_concurrency(celery_cluster):
    create_span_table()
    celery_cluster.start(2, threads=2, DURABLE_MODULES=WORKER_MODULES)
    for index in range(10):
        durable.start(concurrent, f"cel-{index}", 0.15, run_id=f"cel-{index}")
    wait_for(lambda: finished("cel-") == 10, 60, "the runs on the celery workers")
    assert max_overlap() == CONCURRENT_QUEUE.concurrency, celery_cluster.logs()
