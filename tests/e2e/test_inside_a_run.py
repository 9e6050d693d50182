"""In a real browser: seeing inside a run. "Where is it now?" shows a sleeping step's live
stack (with redacted locals for an operator); a step's log lines show under its step and
attempt, and the runs list finds the run by them; a failure group's incident view names the
version it began on and previews forking the affected runs."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import Permission, User

import durable
from durable import operations
from tests.dashboard.test_incident_view import _across_a_deploy
from tests.e2e.conftest import log_in
from tests.engine.celery_workflows import paying
from tests.engine.test_live_stacks import SLEEP_LINE, stack_in_the_bank
from tests.engine.test_step_logs import charge

pytestmark = pytest.mark.e2e


def operator() -> None:
    user = User.objects.create_user("oncall", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))


def test_where_is_it_now_shows_the_sleeping_steps_function_line_and_redacted_locals(
    live_server, new_page, engine
):
    operator()
    durable.start(paying, "e2e-stack", 60, run_id="e2e-stack")
    try:
        stack_in_the_bank("e2e-stack")  # the step's body is on its thread now
        page = new_page()
        log_in(page, live_server.url, "oncall")
        page.goto(f"{live_server.url}/runs/e2e-stack/")
        page.check("#where-now input[name=locals]")
        page.click("#where-now-button")
        answer = page.locator("#stack-answer-body")
        answer.wait_for(timeout=15_000)

        current = answer.locator("li.current")
        assert "waiting_for_the_bank" in current.inner_text()
        assert f"celery_workflows.py:{SLEEP_LINE}" in current.inner_text()
        assert "line.acquire(timeout=seconds)" in current.inner_text()  # the source line
        locals_shown = current.locator("table.stack-locals").inner_text()
        assert "api_token\t<redacted>" in locals_shown
        assert "secret-of-e2e-stack" not in page.content()
    finally:
        operations.cancel("e2e-stack")


clerk = logging.getLogger("tests.e2e.clerk")
clerk.setLevel(logging.INFO)
TRIES: dict[str, int] = {}


@durable.step(name="tests.e2e.inside.file_invoice", retries=1, retry_delay=0.01)
def file_invoice(order_id: str) -> str:
    attempt = TRIES[order_id] = TRIES.get(order_id, 0) + 1
    clerk.info("attempt %d: filing %s", attempt, order_id)
    if attempt == 1:
        clerk.error("the ledger is locked")
        raise RuntimeError("ledger locked")
    clerk.warning("the bank is slow for %s", order_id)
    return order_id


@durable.workflow(name="tests.e2e.inside.invoice")
def invoice(order_id: str) -> str:
    first = charge(order_id)
    return file_invoice(first)


def test_a_steps_log_lines_show_under_its_step_and_attempt_and_the_runs_list_finds_them(
    live_server, new_page, engine
):
    operator()
    durable.start(invoice, "e2e-logs", run_id="e2e-logs").result(timeout=20)
    page = new_page()
    log_in(page, live_server.url, "oncall")
    page.goto(f"{live_server.url}/runs/e2e-logs/")

    charge = page.locator("#step-logs-0")
    charge.locator("summary").click()
    assert charge.locator(".log-message").all_inner_texts() == [
        "charging order e2e-logs",
        "the bank is slow for e2e-logs",
        "retrying the charge of e2e-logs",
    ]
    filing = page.locator("#step-logs-1")
    filing.locator("summary").click()
    attempts = filing.locator("ol.log-lines")
    assert filing.locator("div.muted").all_inner_texts() == ["attempt 1", "attempt 2"]
    assert attempts.nth(0).locator(".log-message").all_inner_texts() == [
        "attempt 1: filing charged e2e-logs",
        "the ledger is locked",
    ]
    assert attempts.nth(1).locator(".log-message").all_inner_texts() == [
        "attempt 2: filing charged e2e-logs",
        "the bank is slow for charged e2e-logs",
    ]

    page.goto(f"{live_server.url}/")
    page.fill("#id_logs", "BANK IS SLOW")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**logs=BANK*")
    assert page.locator("#results >> text=e2e-logs").count() >= 1


def test_the_incident_view_names_the_deploy_and_previews_forking_the_affected_runs(
    live_server, new_page, transactional_db, settings
):
    settings.DURABLE_EXECUTOR = "external"
    operator()
    _across_a_deploy()
    page = new_page()
    log_in(page, live_server.url, "oncall")
    page.click("nav.nav >> text=Failures")
    page.click("#hotspots >> text=Incident view")

    assert "first failed on version v2" in page.inner_text("#incident-when")
    assert "executors first served version v2" in page.inner_text("#incident-deploy")
    assert "2 runs" in page.inner_text("#incident-radius")
    assert "2 still failing" in page.inner_text("#incident-radius")
    page.click("#incident-fork-all")
    page.wait_for_url("**/bulk/**")
    assert page.inner_text("#bulk-title").startswith("Fork 2 runs?")  # onto the current version
    assert "No runs match" not in page.inner_text("#preview")
