"""The dashboard's health page: checks, live executors and versions, stranded runs with a
fork onto the current code, cron schedules with last and next tick."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from durable.core import store
from durable.models import Executor, Run, Schedule
from tests.dashboard.conftest import make_run
from tests.monitoring import workflows  # this process runs its current version


def client_with(*codenames: str) -> Client:
    user = User.objects.create_user("u-" + "-".join(codenames), password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def stranded_runs() -> None:
    """Due ENQUEUED runs: one of an old version of a known workflow, one of an unknown one."""
    waiting = {
        "status": "ENQUEUED",
        "available_at": timezone.now() - timedelta(minutes=5),
        "started_at": None,
        "finished_at": None,
    }
    input_ = {"args": ["old-1", 5], "kwargs": {}}
    make_run(
        id="old-1", workflow="tests.monitoring.checkout", version="old-v", input=input_, **waiting
    )
    make_run(id="gone-1", workflow="tests.gone", version="v1", **waiting)


def test_health_page_lists_stranded_runs_with_the_reason_and_a_fork(db):
    stranded_runs()
    page = client_with("view_runs", "operate_runs").get("/system/").content.decode()
    assert 'id="health-status">unhealthy' in page  # no live executor
    table = page[page.index('id="stranded"') :]
    assert "no live executor runs version &#x27;old-v&#x27; of tests.monitoring.checkout" in table
    assert "no live executor runs tests.gone" in table
    assert '<input type="hidden" name="run_id" value="old-1">' in table
    assert "Fork old-1" in table
    assert "Fork gone-1" not in table  # nothing here could run a fork of it either


def test_viewers_see_stranded_runs_without_fork_buttons(db):
    stranded_runs()
    page = client_with("view_runs").get("/system/").content.decode()
    assert "Fork old-1" not in page and 'href="/runs/old-1/"' in page


def test_health_page_shows_live_executors_with_versions_and_schedules(db):
    store.heartbeat(
        executor_id="ex-1", kind="celery", hostname="h", pid=1, workflows=["shop.order@v9"]
    )
    Schedule.objects.create(
        name="shop.nightly",
        workflow="shop.nightly",
        cron="0 3 * * *",
        last_tick_at=timezone.now(),
        missed_ticks=2,
    )
    page = client_with("view_runs").get("/system/").content.decode()
    assert 'id="health-status">healthy' in page
    executors = page[page.index('id="live-executors"') :]
    assert "ex-1" in executors and "shop.order@v9" in executors
    schedules = page[page.index('id="schedules"') :]
    assert "shop.nightly" in schedules and "0 3 * * *" in schedules
    assert '<td class="num">2</td>' in schedules


def test_health_page_does_not_list_a_killed_executor_as_live(db, short_lease):
    """Killed without a goodbye: its lifeline lock is gone and it has been silent for more
    than three heartbeats, so the page agrees with /health, not two leases later."""
    store.heartbeat(executor_id="ex-killed", kind="thread", hostname="h", pid=1, workflows=[])
    Executor.objects.filter(id="ex-killed").update(
        last_seen_at=timezone.now() - timedelta(seconds=5)
    )
    page = client_with("view_runs").get("/system/").content.decode()
    assert 'data-executor="ex-killed"' not in page  # not in the live executors' table
    assert 'id="health-status">healthy' not in page


def test_health_page_needs_the_view_permission(db):
    assert client_with().get("/system/").status_code == 403


def test_the_fork_button_starts_the_run_on_the_current_code(db):
    stranded_runs()
    client = client_with("view_runs", "operate_runs")
    client.post("/actions/fork/", {"run_id": "old-1", "from_step": 0})
    fork = Run.objects.get(forked_from_id="old-1")
    assert fork.version == workflows.checkout.__durable_workflow__.version != "old-v"
