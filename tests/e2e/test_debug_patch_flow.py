"""In a real browser: a failed run's upstream output is edited and the fork carries on."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission, User

import durable
from durable.models import Run
from tests.dashboard.conftest import wait_until_finished
from tests.e2e.conftest import log_in
from tests.engine import debug_workflows

pytestmark = pytest.mark.e2e


@pytest.fixture
def failed_checkout(engine):
    durable.start(debug_workflows.checkout, "o-e2e", run_id="e2e-checkout")
    assert wait_until_finished("e2e-checkout") == "ERROR"
    user = User.objects.create_user("owner", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_runs", "operate_runs"]))
    return "e2e-checkout"


def test_an_operator_edits_an_output_and_the_fork_succeeds(live_server, new_page, failed_checkout):
    page = new_page()
    log_in(page, live_server.url, "owner")
    page.goto(f"{live_server.url}/runs/{failed_checkout}/")

    page.click("#step-0 button:has-text('open whole') >> nth=0")  # step 0's input, as a tree
    tree = page.wait_for_selector("#step-0 .json-tree:not([hidden]) .json-leaf")
    assert tree.inner_text() == '0: "o-e2e"'

    page.click("#step-0 a:has-text('Edit output and continue')")
    textarea = page.locator("#id_output")
    assert json.loads(textarea.input_value())["amount"] == 120
    textarea.fill('{"amount": 80')
    assert page.locator("#patch-form button[type=submit]").is_disabled()
    textarea.fill(json.dumps({"order": "o-e2e", "amount": 80, "currency": "EUR"}))
    page.click("#patch-form button[type=submit]")

    page.wait_for_selector(".messages .success")
    fork = Run.objects.get(forked_from_id=failed_checkout)
    assert page.url.endswith(f"/runs/{fork.id}/")
    assert wait_until_finished(fork.id) == "SUCCESS"
    page.reload()
    assert page.locator("#run-status").inner_text() == "SUCCESS"
    assert page.locator("#step-0 .tag.patched").is_visible()
