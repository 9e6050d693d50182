"""In a real browser: an operator opens the Health page, sees why a run is stranded, and
forks it onto the current code in one click."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from durable.models import Run
from tests.dashboard.conftest import wait_until_finished
from tests.e2e.conftest import log_in
from tests.monitoring.test_system_page import stranded_runs

pytestmark = pytest.mark.e2e


def test_an_operator_forks_a_stranded_run_from_the_health_page(live_server, new_page, engine):
    stranded_runs()
    user = User.objects.create_user("owner", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))
    page = new_page()
    log_in(page, live_server.url, "owner")
    page.click("nav.nav >> text=Health")
    page.wait_for_selector("#stranded")
    assert page.inner_text("#health-status") in {"degraded", "unhealthy"}  # runs wait
    row = page.locator("#stranded tr", has_text="old-v")
    assert "no live executor runs version 'old-v'" in row.inner_text()
    row.locator("button", has_text="Fork old-1").click()
    page.wait_for_selector(".messages")
    fork = Run.objects.get(forked_from_id="old-1")
    assert wait_until_finished(fork.id) == "SUCCESS"
