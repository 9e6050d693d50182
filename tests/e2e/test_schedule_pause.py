"""In a real browser: an operator pauses a cron schedule from the Health page, sees it
paused, and resumes it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

import durable
from durable.models import AuditEntry, Schedule
from durable.schedules import _declared as declared_schedules
from tests.e2e.conftest import log_in
from tests.engine.test_dynamic_schedules import ping  # registers tests.dyn.ping

pytestmark = pytest.mark.e2e


def test_an_operator_pauses_a_schedule_from_the_health_page(
    live_server, new_page, transactional_db, monkeypatch, settings
):
    monkeypatch.setattr(declared_schedules, "_schedules", {})
    settings.DURABLE_EXECUTOR = "external"
    durable.schedules.create("nightly-emea", ping, cron="0 3 * * *")
    user = User.objects.create_user("owner", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))
    page = new_page()
    log_in(page, live_server.url, "owner")
    page.click("nav.nav >> text=Health")
    row = page.locator('#schedules tr[data-schedule="nightly-emea"]')
    assert row.locator("[data-state]").inner_text() == "active"
    row.locator("button", has_text="Pause").click()
    page.wait_for_selector(".messages")
    assert "Paused schedule nightly-emea" in page.inner_text(".messages")
    row = page.locator('#schedules tr[data-schedule="nightly-emea"]')
    assert row.locator("[data-state]").inner_text() == "paused"
    assert Schedule.objects.get(name="nightly-emea").paused
    row.locator("button", has_text="Resume").click()
    page.wait_for_selector(".messages >> text=Resumed schedule nightly-emea")
    assert page.locator(
        '#schedules tr[data-schedule="nightly-emea"] [data-state]'
    ).inner_text() == ("active")
    assert [
        entry.actor for entry in AuditEntry.objects.filter(action__startswith="schedule.p")
    ] == ["owner"]
