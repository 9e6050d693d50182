"""In a real browser: the latency page reads in human units, draws a chart per step once the
page is up, and its workflow selector filters the steps table."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from tests.dashboard.conftest import make_run, make_step
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def history(transactional_db):
    for index, seconds in enumerate((0.8, 2.5, 40.0)):
        run = make_run(workflow="shop.order", active_ms=seconds * 1000)
        make_step(run, 0, name="shop.charge", duration_ms=seconds * 1000)
        ml = make_run(workflow="ml.train", active_ms=5000.0 + index)
        make_step(ml, 0, name="ml.fit", duration_ms=5000.0)
    user = User.objects.create_user("watcher", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename="view_runs"))


def test_latency_reads_in_seconds_and_filters_steps_by_workflow(live_server, new_page, history):
    page = new_page()
    log_in(page, live_server.url, "watcher")
    page.goto(f"{live_server.url}/latency/?window=1h")
    page.wait_for_selector(".panel .main-svg")
    ticks = page.locator(".ytick text").evaluate_all("els => els.map(e => e.textContent)")
    assert ticks and all(t.endswith((" ms", " s", " min", " h")) for t in ticks), ticks
    page.wait_for_selector("#step-charts .main-svg")  # loaded after the page
    assert page.locator("#step-charts .main-svg").count() >= 2

    page.select_option("select[name=workflow]", "ml.train")
    page.wait_for_url("**workflow=ml.train**")
    table = page.locator("#step-latency").inner_text()
    assert "ml.fit" in table and "shop.charge" not in table
