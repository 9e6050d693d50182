"""Queue limits are enforced at claim time in PostgreSQL, for any executor."""

from __future__ import annotations

import time

import pytest

import durable
from durable import queues
from durable.core import _runtime as runtime
from durable.models import Run
from tests.engine.celery_processes import create_span_table, max_overlap
from tests.engine.celery_workflows import LIMITED, RANKED, limited, ranked
from tests.engine.celery_workflows import per_worker as per_worker_workflow
from tests.engine.celery_workflows import rated as rated_workflow
from tests.engine.processes import wait_for

WORKFLOWS = [
    "tests.celery.limited",
    "tests.celery.per_worker",
    "tests.celery.rated",
    "tests.celery.ranked",
]


@pytest.fixture
def waiting_runs(transactional_db, settings):
    """Runs started here stay ENQUEUED until the test claims them."""
    settings.DURABLE_EXECUTOR = "external"

    def start(workflow, count: int, *args, prefix: str) -> list[str]:
        return [
            durable.start(workflow, f"{prefix}-{i}", *args, run_id=f"{prefix}-{i}").run_id
            for i in range(count)
        ]

    return start


def claims(run_ids: list[str], executor_id: str = "executor-a") -> list[str]:
    return [rid for rid in run_ids if runtime.claim(rid, executor_id, WORKFLOWS) is not None]


def test_a_queue_is_declared_once_and_exposed_as_durable_queue():
    assert durable.Queue is queues.Queue
    assert queues.get_queue(LIMITED.name) is LIMITED
    assert durable.Queue(LIMITED.name, concurrency=3) == LIMITED
    with pytest.raises(ValueError, match="declared twice"):
        durable.Queue(LIMITED.name, concurrency=4)
    with pytest.raises(ValueError, match="rate_limit"):
        durable.Queue("durable-test-bad", rate_limit=(0, 1))


def test_concurrency_limit_refuses_claims_beyond_it_until_a_run_ends(waiting_runs):
    run_ids = waiting_runs(limited, 5, 0, prefix="conc")
    assert claims(run_ids[:4]) == run_ids[:3]
    assert claims(run_ids[3:], "executor-b") == []
    Run.objects.filter(id=run_ids[0]).update(status="SUCCESS")
    assert claims(run_ids[3:], "executor-b") == [run_ids[3]]
    assert Run.objects.filter(queue=LIMITED.name, status="RUNNING").count() == 3


def test_worker_concurrency_counts_the_runs_of_each_executor(waiting_runs):
    run_ids = waiting_runs(per_worker_workflow, 4, 0, prefix="per")
    assert claims(run_ids, "executor-a") == run_ids[:1]
    assert claims(run_ids[1:], "executor-b") == run_ids[1:2]
    assert claims(run_ids[2:], "executor-a") == []


def test_rate_limit_admits_n_starts_per_window(waiting_runs):
    run_ids = waiting_runs(rated_workflow, 6, prefix="rate")
    assert claims(run_ids) == run_ids[:4]
    Run.objects.filter(id__in=run_ids[:4]).update(status="SUCCESS")
    assert claims(run_ids[4:]) == []
    time.sleep(1.05)
    assert claims(run_ids[4:]) == run_ids[4:]


def test_a_head_claim_takes_the_highest_priority_due_run(waiting_runs, settings):
    low = durable.start(ranked, "low", 0, run_id="low", priority=1).run_id
    high = durable.start(ranked, "high", 0, run_id="high", priority=9).run_id
    claimed, queue = queues.claim(low, "executor-a", WORKFLOWS, head=True)
    assert (claimed.run_id, queue) == (high, RANKED.limits())  # as stored
    assert queues.claim(low, "executor-b", WORKFLOWS, head=True) == (None, RANKED.limits())


def test_the_default_queue_keeps_its_one_statement_claim(waiting_runs):
    from tests.engine.workflows import ledger

    handle = durable.start(ledger, "plain", [], run_id="plain")
    assert runtime.claim(handle.run_id, "executor-a", ["tests.ledger"]).run_id == "plain"
    assert runtime.claim(handle.run_id, "executor-b", ["tests.ledger"]) is None


def test_the_thread_executor_never_exceeds_a_queue_concurrency_limit(side_effects, settings):
    settings.DURABLE_POLL_SECONDS = 0.05
    create_span_table()
    handles = [durable.start(limited, f"thread-{i}", 0.15, run_id=f"thread-{i}") for i in range(9)]
    wait_for(lambda: all(h.status() == "SUCCESS" for h in handles), 30, "9 limited runs")
    assert 2 <= max_overlap() <= LIMITED.concurrency


def test_a_dedup_id_admits_one_active_run_per_queue(waiting_runs):
    first = durable.start(limited, "d-1", 0, run_id="d-1", dedup_id="user-7")
    again = durable.start(limited, "d-2", 0, run_id="d-2", dedup_id="user-7")
    elsewhere = durable.start(rated_workflow, "d-3", run_id="d-3", dedup_id="user-7")
    assert (first.run_id, again.run_id, elsewhere.run_id) == ("d-1", "d-1", "d-3")
    assert not Run.objects.filter(id="d-2").exists()
    Run.objects.filter(id="d-1").update(status="SUCCESS")
    assert durable.start(limited, "d-4", 0, run_id="d-4", dedup_id="user-7").run_id == "d-4"


def test_a_workflow_can_be_started_on_a_queue_object(waiting_runs):
    handle = durable.start(rated_workflow, "q-1", run_id="q-1", queue=LIMITED)
    assert Run.objects.get(id=handle.run_id).queue == LIMITED.name

    @durable.workflow(name="tests.queues.declared_with_object", queue=LIMITED)
    def declared_with_object() -> None:
        return None

    handle = durable.start(declared_with_object, run_id="q-2")
    assert Run.objects.get(id=handle.run_id).queue == LIMITED.name
