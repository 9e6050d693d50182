"""In a real browser: log in, filter, open a failed run, see its timeline, fork it to success;
a viewer sees no actions and is refused when it tries anyway."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User

import durable
from durable.models import Run
from tests.dashboard.conftest import wait_until_finished
from tests.dashboard.workflows import order
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


def _user(username: str, *codenames: str) -> None:
    user = User.objects.create_user(username, password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))


@pytest.fixture
def runs(engine):
    durable.start(order, 1, True, run_id="order-e2e-failed")
    durable.start(order, 2, False, run_id="order-e2e-ok")
    assert wait_until_finished("order-e2e-failed") == "ERROR"
    assert wait_until_finished("order-e2e-ok") == "SUCCESS"
    _user("owner", "view_runs", "operate_runs")
    _user("viewer", "view_runs")


def test_an_operator_forks_a_failed_run_from_its_failed_step(live_server, new_page, runs):
    page = new_page()
    log_in(page, live_server.url, "owner")
    assert page.locator("#results").is_visible()

    page.click(".tab:has-text('Error')")
    page.wait_for_url(re.compile(r"status=ERROR"))
    assert page.locator("a.runid", has_text="order-e2e-failed").is_visible()
    assert page.locator("a.runid", has_text="order-e2e-ok").count() == 0

    page.click("a.runid:has-text('order-e2e-failed')")
    page.wait_for_selector("#timeline .main-svg")  # plotly drew the Gantt chart
    assert page.locator("#run-status").inner_text() == "ERROR"
    assert "card declined for order 1" in page.locator("#steps").inner_text()

    page.click("#step-1 button:has-text('Fork from here')")
    dialog = page.locator("#dlg-fork")
    assert "Checkpoint 0 is copied" in dialog.inner_text()
    dialog.locator("textarea").fill('{"args": [1, false')
    assert "Not valid JSON" in dialog.locator("[data-json-error]").inner_text()
    assert dialog.locator("button[type=submit]").is_disabled()
    dialog.locator("textarea").fill('{"args": [1, false], "kwargs": {}}')
    dialog.locator("button[type=submit]").click()

    page.wait_for_selector(".messages .success")
    assert "Forked" in page.locator(".messages").inner_text()
    # a locator wait, not wait_for_function: the Content-Security-Policy forbids eval
    page.locator("#run-status", has_text="SUCCESS").wait_for(timeout=20_000)
    assert "forked from" in page.locator("dl.facts").inner_text().lower()


def test_a_viewer_sees_no_actions_and_is_refused(live_server, new_page, runs):
    page = new_page()
    log_in(page, live_server.url, "viewer")
    page.goto(f"{live_server.url}/runs/order-e2e-failed/")
    page.wait_for_selector("#timeline .main-svg")
    assert page.locator("text=Fork from here").count() == 0
    assert page.locator("button:has-text('Resume')").count() == 0
    status = page.evaluate(
        """async () => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const response = await fetch('/actions/resume/', {method: 'POST',
                headers: {'X-CSRFToken': token,
                          'Content-Type': 'application/x-www-form-urlencoded'},
                body: 'run_id=order-e2e-failed'});
            return response.status;
        }"""
    )
    assert status == 403
    assert Run.objects.get(id="order-e2e-failed").status == "ERROR"
