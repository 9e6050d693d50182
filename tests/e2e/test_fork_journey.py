"""On call, in a real browser: front page → newest failed run → fork from its failing step
with edited input, in at most 4 clicks, each screen telling the truth on the way."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import expect

import durable
from durable.models import AuditEntry, Run
from tests.dashboard.conftest import wait_until_finished
from tests.dashboard.workflows import order
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e
SECONDS = re.compile(r"^\d+ ms$|^\d+\.\d s$")


@pytest.fixture
def incident(engine):
    durable.start(order, 1, False, run_id="order-ok")
    assert wait_until_finished("order-ok") == "SUCCESS"
    durable.start(order, 2, True, run_id="order-older-failure")
    assert wait_until_finished("order-older-failure") == "ERROR"
    durable.start(order, 3, True, run_id="order-newest-failure")
    assert wait_until_finished("order-newest-failure") == "ERROR"
    user = User.objects.create_user("oncall", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))


def test_fork_the_newest_failure_from_its_failing_step_in_four_clicks(
    live_server, new_page, incident
):
    page = new_page()
    log_in(page, live_server.url, "oncall")
    clicks = 0

    # front page: newest first, active time in seconds, nothing parked
    rows = page.locator("#results tbody tr")
    ids = [rows.nth(i).locator("a.runid").first.inner_text() for i in range(rows.count())]
    assert ids == ["order-newest-failure", "order-older-failure", "order-ok"]
    cells = rows.nth(0).locator("td.num")
    assert SECONDS.match(cells.nth(0).inner_text().strip())  # Active
    assert cells.nth(1).inner_text().strip() == "–"  # Parked

    page.click("a.runid:has-text('order-newest-failure')")
    clicks += 1
    page.wait_for_selector("#timeline .main-svg")
    assert page.locator("#run-status").inner_text() == "ERROR"
    assert SECONDS.match(page.locator("#active-time").inner_text().strip())
    step_rows = page.locator("#steps tbody tr")
    assert [step_rows.nth(i).get_attribute("id") for i in range(step_rows.count())] == [
        "step-0",
        "step-1",
    ]
    assert "card declined for order 3" in page.locator("#step-1").inner_text()
    # the timeline's rows, top to bottom, in history order: queue wait, #0, #1
    ticks = page.locator("#timeline .ytick text").evaluate_all(
        "els => els.map(e => [e.getBoundingClientRect().top, e.textContent])"
    )
    assert [label for _, label in sorted(ticks)] == ["queued", "#0 reserve", "#1 charge"]

    page.click("#step-1 button:has-text('Fork from here')")
    clicks += 1
    dialog = page.locator("#dlg-fork")
    assert "Checkpoint 0 is copied" in dialog.inner_text()
    assert "order_id" in dialog.inner_text() and "fail" in dialog.inner_text()
    dialog.locator("textarea").fill('{"args": [3, false], "kwargs": {}}')
    dialog.locator("input[name=reason]").fill("card processor fixed, INC-77")
    dialog.locator("button[type=submit]").click()
    clicks += 1

    page.wait_for_selector(".messages .success")
    message = page.locator(".messages").inner_text()
    assert "Forked" in message and "card processor fixed, INC-77" in message
    # a locator wait, not wait_for_function: the page's CSP forbids evaluating strings
    expect(page.locator("#run-status")).to_have_text("SUCCESS", timeout=20_000)
    assert "order-newest-failure" in page.locator("#lineage").inner_text()
    assert "from order-newest-failure" in page.locator("#step-0").inner_text()  # inherited
    assert clicks <= 4
    fork = Run.objects.get(forked_from_id="order-newest-failure")
    assert fork.input["args"] == [3, False]
    assert AuditEntry.objects.get(action="fork").detail["reason"] == "card processor fixed, INC-77"
