"""In a real browser: an operator drains a live executor from the Health page, sees it
marked draining (and the executor itself stops taking runs), then undrains it."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Permission, User

from durable import executors
from durable.models import AuditEntry, Executor
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


def _wait_for(predicate, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_operator_drains_an_executor_from_the_health_page(live_server, new_page, engine):
    executor = executors.start_thread_executor(threads=1)
    _wait_for(lambda: Executor.objects.filter(id=executor.executor_id).exists())
    user = User.objects.create_user("owner", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))
    page = new_page()
    log_in(page, live_server.url, "owner")
    page.click("nav.nav >> text=Health")
    selector = f'#live-executors tr[data-executor="{executor.executor_id}"]'
    row = page.locator(selector)
    assert row.locator("[data-state]").inner_text() == "live"
    row.locator("button[data-dialog]").click()
    dialog = row.locator("dialog[open]")
    dialog.locator("input[name=reason]").fill("kernel upgrade")
    dialog.locator("button", has_text="Drain executor").click()
    page.wait_for_selector(".messages")
    assert "takes no new runs" in page.inner_text(".messages")
    row = page.locator(selector)
    assert row.locator("[data-state]").inner_text() == "draining"
    _wait_for(executor._operator_drain.is_set, 5)  # the executor heard it at once
    entry = AuditEntry.objects.get(action="drain")
    assert (entry.actor, entry.detail["reason"]) == ("owner", "kernel upgrade")
    row.locator("button", has_text="Undrain").click()
    page.wait_for_selector(
        f'#live-executors tr[data-executor="{executor.executor_id}"] >> text=live'
    )
    _wait_for(lambda: not executor._operator_drain.is_set(), 5)
