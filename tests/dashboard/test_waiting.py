"""Why isn't this run moving? Said on its page and in the list, from the tables' data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.queries.waiting import reasons
from durable import queues
from durable.models import Attempt, Executor
from tests.dashboard import workflows
from tests.dashboard.conftest import make_run, make_step

pytestmark = pytest.mark.django_db


def _executor(*workflows: str) -> None:
    Executor.objects.create(id="ex-1", kind="thread", hostname="h", pid=1, workflows=workflows)


def _enqueued(**fields):
    fields = {"status": "ENQUEUED", "started_at": None, "finished_at": None, **fields}
    return make_run(**fields)


def test_no_live_executor_serves_its_version(viewer_client):
    _executor("other.flow")
    _enqueued(id="e1", version="v2")
    assert "no live executor serves shop.order (version v2)" in reasons([_get("e1")])["e1"]
    assert "no live executor serves shop.order" in viewer_client.get("/runs/e1/").content.decode()
    assert "no live executor serves shop.order" in viewer_client.get("/").content.decode()


def _get(run_id):
    from durable.models import Run

    return Run.objects.get(id=run_id)


def test_a_sleeping_run_says_until_when(db):
    _executor("shop.order")
    wake = timezone.now() + timedelta(minutes=10)
    run = _enqueued(id="s1", available_at=wake, started_at=timezone.now())
    make_step(run, 0, kind="sleep", name="durable.sleep", finished_at=wake)
    assert reasons([_get("s1")])["s1"].startswith(f"sleeping until {wake:%H:%M:%S}")


def test_a_queue_at_its_concurrency_limit_says_so(db):
    queues.set_limits("dash-narrow", concurrency=1)
    _executor("shop.order")
    make_run(id="busy", queue="dash-narrow", status="RUNNING", finished_at=None)
    _enqueued(id="wait", queue="dash-narrow")
    assert (
        "queue dash-narrow is at its concurrency limit (1 of 1 running)"
        in reasons([_get("wait")])["wait"]
    )


def test_a_rate_limited_queue_says_until_when(db):
    queues.set_limits("dash-slow", rate_limit=(1, 60))
    _executor("shop.order")
    make_run(id="done", queue="dash-slow", started_at=timezone.now(), claimed_at=timezone.now())
    _enqueued(id="wait", queue="dash-slow")
    assert (
        "queue dash-slow is at its rate limit (1 starts in the last 60 s, 1 allowed) until"
        in (reasons([_get("wait")])["wait"])
    )


def test_a_parent_waits_for_its_child(db):
    parent = make_run(id="p", status="RUNNING", finished_at=None)
    make_step(parent, 0, kind="child", name="shop.ship", output={"run_id": "p.0"})
    _enqueued(id="p.0", parent=parent)
    assert reasons([_get("p")])["p"] == "waiting for child run p.0"


def test_a_retrying_step_says_which_attempt_failed(db):
    run = make_run(id="r", status="RUNNING", finished_at=None)
    make_step(run, 0)
    now = timezone.now()
    Attempt.objects.create(
        run=run,
        position=1,
        attempt=2,
        name="shop.pay",
        error={},
        error_type="shop.Timeout",
        started_at=now,
        finished_at=now,
    )
    assert reasons([_get("r")])["r"].startswith("step 1 failed attempt 2 (Timeout)")


def test_a_retrying_step_says_when_it_retries_next(db):
    run = make_run(id="r2", status="RUNNING", finished_at=None)
    failed_at = timezone.now()
    Attempt.objects.create(
        run=run,
        position=0,
        attempt=1,
        name="tests.dashboard.workflows.patient_call",
        error={},
        error_type="shop.Timeout",
        started_at=failed_at,
        finished_at=failed_at,
    )
    assert workflows.patient_call  # its module is imported, as autodiscovery would
    retry_at = failed_at + timedelta(seconds=30)  # patient_call retries after 30 s
    assert f"next retry at {retry_at:%H:%M:%S} UTC" in reasons([_get("r2")])["r2"]


def test_the_next_retry_is_the_recorded_jittered_wait_not_the_policys(db):
    run = make_run(id="r3", status="RUNNING", finished_at=None)
    failed_at = timezone.now()
    Attempt.objects.create(
        run=run,
        position=0,
        attempt=1,
        name="tests.dashboard.workflows.patient_call",
        error={"retry_delay_seconds": 12.5},
        error_type="shop.Timeout",
        started_at=failed_at,
        finished_at=failed_at,
    )
    retry_at = failed_at + timedelta(seconds=12.5)  # not the policy's 30 s
    assert f"next retry at {retry_at:%H:%M:%S} UTC" in reasons([_get("r3")])["r3"]


def test_a_fleet_that_is_all_drained_says_so(db):
    _executor("shop.order")
    Executor.objects.update(draining=True)
    _enqueued(id="wait")
    assert reasons([_get("wait")])["wait"].startswith("every live executor (1) is draining")
