"""Health that matches reality: draining executors do not serve, and due runs that no
executor takes (all drained, no executor runs their version, their queue's limit full)
make `/health` degraded, show on the health page with the fix, and count in `/metrics`."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

import durable
from durable import operations, queues
from durable.executors.thread import ThreadExecutor
from durable.models import Executor, Run
from durable.observability import _untaken as untaken
from tests.dashboard.conftest import make_run
from tests.monitoring.health_helpers import beat
from tests.monitoring.workflows import checkout


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.1)


def operator() -> Client:
    user = User.objects.create_user("op", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def executor(transactional_db, settings):
    """A real thread executor in this process (durable.start only records runs)."""
    settings.DURABLE_EXECUTOR = "external"
    started = ThreadExecutor(threads=2, poll_seconds=0.05)
    started.start()
    wait_for(lambda: Executor.objects.filter(id=started.executor_id).exists(), 10, "its row")
    yield started
    started.shutdown(wait=True)


def test_draining_every_executor_makes_health_degraded_and_lists_the_waiting_runs(executor):
    client = operator()
    assert client.get("/health").json()["status"] == "ok"
    operations.drain_executor(executor.executor_id, actor="ops", reason="deploy")
    wait_for(executor._operator_drain.is_set, 5, "the drain notice")
    handles = [durable.start(checkout, f"w-{n}", n, run_id=f"w-{n}") for n in range(3)]
    began = time.monotonic()
    body = wait_for(lambda: (b := client.get("/health").json())["status"] == "degraded" and b,
                    10, "/health to say degraded")  # fmt: skip
    response = client.get("/health")
    assert response.status_code == 200  # degraded: up, but an operator is needed
    assert "all draining" in body["checks"]["executors"]["detail"]
    untaken_check = body["checks"]["untaken"]
    assert untaken_check["degraded"] and "3 due run(s) no executor takes" in untaken_check["detail"]
    assert "is draining" in untaken_check["detail"]
    page = client.get("/system/").content.decode()
    assert time.monotonic() - began < 10
    assert 'id="health-status">degraded' in page
    table = page[page.index('id="stranded"') :]
    assert all(f'href="/runs/w-{n}/"' in table for n in range(3))
    assert f'name="executor_id" value="{executor.executor_id}"' in table
    assert f"Undrain {executor.executor_id}" in table
    client.post("/actions/undrain/", {"executor_id": executor.executor_id})
    assert [handle.result(timeout=20) for handle in handles] == [0, 1, 2]
    assert client.get("/health").json()["status"] == "ok"


def _due(run_id: str, **fields) -> Run:
    waiting = {"status": "ENQUEUED", "available_at": timezone.now() - timedelta(seconds=30),
               "started_at": None, "finished_at": None}  # fmt: skip
    return make_run(id=run_id, **{**waiting, **fields})


def test_a_full_concurrency_limit_is_flagged_with_a_raise_limit_button(db, settings):
    beat("ex-1", workflows=["shop.mail"])
    queues.set_limits("mail", concurrency=1, actor="ops")
    make_run(id="busy", workflow="shop.mail", queue="mail", status="RUNNING",
             executor_id="ex-1", finished_at=None)  # fmt: skip
    _due("held", workflow="shop.mail", queue="mail")
    [group] = untaken.untaken()
    assert (group.queue, group.cause, group.count, group.run_ids) == ("mail", "concurrency", 1,
                                                                      ["held"])  # fmt: skip
    assert "at its concurrency limit (1 of 1 running)" in group.reason
    page = operator().get("/system/").content.decode()
    table = page[page.index('id="stranded"') :]
    assert 'data-raise-limit="mail"' in table and 'name="limit" value="concurrency"' in table


def test_the_raise_limit_button_overrides_the_limit_audited(db):
    queues.set_limits("mail", concurrency=1, actor="ops")
    response = operator().post(
        "/actions/queue-limits/raise/",
        {"name": "mail", "limit": "concurrency", "value": "4"},
    )
    assert response.status_code == 302 and response["Location"].endswith("/system/")
    assert queues.stored_limits("mail").concurrency == 4


def test_a_version_nobody_serves_and_a_drained_one_are_told_apart(db):
    beat("ex-new", workflows=["shop.pay@v2"])
    beat("ex-old", workflows=["shop.pay@v1"])
    Executor.objects.filter(id="ex-old").update(draining=True)
    _due("on-v1", workflow="shop.pay", version="v1")
    _due("on-v0", workflow="shop.pay", version="v0")
    _due("on-v2", workflow="shop.pay", version="v2")
    causes = {group.version: group.cause for group in untaken.untaken()}
    assert causes == {"v1": "drained", "v0": "unserved"}


def test_metrics_count_due_runs_no_executor_takes_by_queue_version_and_cause(db, settings):
    settings.DURABLE_METRICS_ENABLED = True
    settings.DURABLE_METRICS_TOKEN = "s3cret"
    beat("ex-old", workflows=["shop.pay@v1"])
    Executor.objects.filter(id="ex-old").update(draining=True)
    for n in range(2):
        _due(f"m-{n}", workflow="shop.pay", version="v1")
    text = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()
    assert 'durable_executors_draining{kind="thread"} 1.0' in text
    assert "durable_executors_live{" not in text and "durable_executors_serving{" not in text
    assert (
        'durable_untaken_runs{cause="drained",queue="default",version="v1",workflow="shop.pay"}'
        " 2.0" in text
    )
