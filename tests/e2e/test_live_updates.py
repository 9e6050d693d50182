"""In a real browser, under the Content-Security-Policy: live panels keep polling (htmx's
[condition] filters would need eval, which the policy forbids), and they hold still while
an operator has a dialog open."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from durable.models import Run
from tests.dashboard.conftest import make_run
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def operator(transactional_db):
    user = User.objects.create_user("oncall", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))
    return user


def _watch_for_policy_errors(page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if "Content Security Policy" in message.text or "unsafe-eval" in message.text
            else None
        ),
    )
    return errors


def test_a_running_runs_page_updates_itself_without_breaking_the_policy(
    live_server, new_page, operator
):
    make_run(id="live-1", status="RUNNING", finished_at=None)
    page = new_page()
    errors = _watch_for_policy_errors(page)
    log_in(page, live_server.url, "oncall")
    page.goto(f"{live_server.url}/runs/live-1/")
    assert page.locator("#run-status").inner_text() == "RUNNING"
    Run.objects.filter(id="live-1").update(status="SUCCESS")
    page.locator("#run-status", has_text="SUCCESS").wait_for(timeout=10_000)  # no reload
    assert errors == []


def test_the_runs_list_holds_still_while_rows_are_selected(live_server, new_page, operator):
    make_run(id="listed-1", status="RUNNING", finished_at=None)
    page = new_page()
    errors = _watch_for_policy_errors(page)
    log_in(page, live_server.url, "oncall")
    page.goto(f"{live_server.url}/")
    page.locator(".run-select").first.check()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.wait_for_timeout(6_000)  # longer than one 5 s poll
    assert not [url for url in requests if url.rstrip("/") == live_server.url]
    page.locator(".run-select").first.uncheck()
    with page.expect_request(lambda request: request.url.rstrip("/") == live_server.url):
        pass  # polling resumes once nothing is selected
    assert errors == []
