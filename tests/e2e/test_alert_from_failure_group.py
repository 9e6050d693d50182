"""In a real browser: an operator opens the Failures page, creates an alert rule from a
failure group (kind and workflow pre-filled), sends a test to a real local receiver and
reads the delivery log; the webhook URL is never shown back in full."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from durable.models import AlertRule
from tests.alerting.conftest import Receiver
from tests.dashboard.conftest import make_failed_run
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


def test_an_operator_creates_a_rule_from_a_failure_group(
    live_server, new_page, transactional_db, settings
):
    settings.DURABLE_EXECUTOR = "external"
    receiver = Receiver()
    try:
        make_failed_run()
        user = User.objects.create_user("owner", password="pw")
        user.user_permissions.set(
            Permission.objects.filter(codename__in=["view_runs", "operate_runs"])
        )
        page = new_page()
        log_in(page, live_server.url, "owner")
        page.click("nav.nav >> text=Failures")
        page.click("#hotspots >> text=Create an alert for this")
        assert page.input_value("#id_kind") == "new_failure_group"
        assert page.input_value("#id_workflow") == "shop.order"
        url = receiver.url("/hook/secret-token-wxyz")
        page.fill("#id_webhook_url", url)
        page.click("#save-rule")
        page.wait_for_selector(".messages >> text=saved")
        rule = AlertRule.objects.get()
        assert rule.workflow == "shop.order" and rule.destinations[0]["url"] == url
        assert "secret-token" not in page.content()
        page.click("#send-test")
        page.wait_for_selector("#deliveries")
        assert "HTTP 200" in page.inner_text("#deliveries")
        (body,) = receiver.bodies("/hook/secret-token-wxyz")
        assert body["event"] == "test" and body["rule"] == "New failures in shop.order"
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
