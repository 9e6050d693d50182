"""In a real browser: long ids stay inside the facts panel, the favicon loads, an empty
DEAD card's bar is not black, and a stranger's 403 page offers a way out."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from tests.dashboard.conftest import make_failed_run, make_run
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e
LONG_ID = "tenant-" + "a1b2c3d4" * 18


@pytest.fixture
def people(transactional_db):
    origin = make_failed_run(id=LONG_ID, executor_id="celery:" + "worker-host-" * 8)
    make_run(id="fork-of-long", forked_from=origin, forked_from_step=1)
    owner = User.objects.create_user("owner", password="pw")
    owner.user_permissions.set(Permission.objects.filter(codename="view_runs"))
    User.objects.create_user("nobody", password="pw")


def test_long_ids_stay_inside_their_facts_cell(live_server, new_page, people):
    page = new_page()
    log_in(page, live_server.url, "owner")
    for run_id in (LONG_ID, "fork-of-long"):
        page.goto(f"{live_server.url}/runs/{run_id}/")
        overflow = page.evaluate(
            """() => [...document.querySelectorAll('dl.facts > div')].filter(cell => {
                const box = cell.getBoundingClientRect();
                return [...cell.querySelectorAll('dd, dd *')].some(el => {
                    const inner = el.getBoundingClientRect();
                    return inner.right > box.right + 1;
                });
            }).map(cell => cell.querySelector('dt').textContent)"""
        )
        assert overflow == [], run_id


def test_the_favicon_loads_and_an_empty_dead_bar_is_not_black(live_server, new_page, people):
    page = new_page()
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    log_in(page, live_server.url, "owner")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{live_server.url}{icon}").status == 200
    colour = page.locator(".tab .bar.status-dead").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert colour != "rgb(17, 24, 39)"
    assert failed == []


def test_a_stranger_can_log_out_from_the_403_page(live_server, new_page, people):
    page = new_page()
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_selector("#log-out")
    assert "nobody" in page.inner_text("body")
    page.click("#log-out")
    page.wait_for_selector("#id_username")
