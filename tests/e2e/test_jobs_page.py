"""In a real browser: one click starts a bulk restart, the tab closes, the job goes on; the
Jobs page shows it live, and it can be paused and resumed from its page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import expect

from durable.models import BulkJob
from tests.e2e.conftest import log_in
from tests.engine.test_bulk_jobs import UNREGISTERED, derived_per_origin, failed_runs

pytestmark = pytest.mark.e2e


@pytest.fixture
def operator(engine):
    user = User.objects.create_user("owner", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))


def test_a_bulk_restart_goes_on_after_the_tab_closes_and_is_steered_from_the_jobs_page(
    live_server, new_page, operator
):
    origins = failed_runs(40)
    page = new_page()
    log_in(page, live_server.url, "owner")
    page.goto(f"{live_server.url}/bulk/?action=restart&scope=matching&workflow={UNREGISTERED}")
    page.fill("input[name=reason]", "INC-77 provider back")
    page.click("summary:has-text('Go gently')")
    page.fill("input[name=rate]", "8")
    page.click("button.primary[type=submit]")
    expect(page.locator("#job-state")).to_have_text("running")
    page.close()  # the operator closes the tab: the job is the executors' now

    page = new_page()
    log_in(page, live_server.url, "owner")
    page.goto(f"{live_server.url}/jobs/")
    row = page.locator("#jobs-table tbody tr").first
    expect(row).to_contain_text("INC-77 provider back")
    expect(row).to_contain_text("owner")
    row.locator("a").click()
    page.click("button:has-text('Pause')")
    expect(page.locator("#job-state")).to_have_text("paused")
    page.click("button:has-text('Resume')")
    expect(page.locator("#progress h2")).to_have_text(re.compile("Done: restart"), timeout=60_000)
    expect(page.locator("#counts")).to_contain_text("40 done")
    job = BulkJob.objects.get()
    assert (job.state, job.done) == ("FINISHED", 40)
    assert (
        set(derived_per_origin(origins).values()) == {1} and len(derived_per_origin(origins)) == 40
    )
