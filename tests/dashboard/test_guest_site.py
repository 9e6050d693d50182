"""The dashboard as a guest in a host's site: under a prefix, inside the host's layout,
without the host having login, logout or admin URLs, and with a link back to the host."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.dashboard.conftest import make_run

pytestmark = pytest.mark.django_db
PREFIX = "/ops/durable/"
PAGES = ["", "latency/", "failures/", "workers/", "audit/", "system/"]


@pytest.fixture
def guest_site(settings):
    settings.ROOT_URLCONF = "tests.dashboard.guest_site.urls"
    settings.LOGIN_URL = "/host/sign-in/"
    engine = settings.TEMPLATES[0]
    host_templates = Path(__file__).parent / "guest_site" / "templates"
    settings.TEMPLATES = [{**engine, "DIRS": [host_templates, *engine["DIRS"]]}]


def test_every_page_renders_under_the_prefix_with_only_prefixed_links(guest_site, viewer_client):
    run = make_run(status="SUCCESS")
    for page in [*PAGES, f"runs/{run.id}/"]:
        response = viewer_client.get(PREFIX + page)
        assert response.status_code == 200, page
        for link in re.findall(r'(?:href|src|action)="(/[^"]*)"', response.content.decode()):
            assert link == "/" or link.startswith((PREFIX, "/static/")), (page, link)


def test_the_hosts_layout_wraps_the_dashboard(guest_site, viewer_client):
    content = viewer_client.get(PREFIX).content.decode()
    assert 'id="host-chrome"' in content and 'class="topbar"' in content


def test_nav_links_back_to_the_host_only_where_the_host_says(guest_site, viewer_client, settings):
    """A fresh project has no page at "/": no link until DURABLE_HOST_HOME_URL names one."""
    assert "host-home" not in viewer_client.get(PREFIX).content.decode()
    settings.DURABLE_HOST_HOME_URL = "/shop/"
    assert 'href="/shop/" class="host-home"' in viewer_client.get(PREFIX).content.decode()


def test_a_project_without_a_login_template_gets_the_dashboards(settings, client):
    """`include("django.contrib.auth.urls")` in a fresh project renders, rather than 500."""
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": []}]
    response = client.get("/accounts/login/?next=/ops/durable/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="password"' in html and 'value="/ops/durable/"' in html
    assert "site.css" not in html  # the dashboard's own page, not this repository's


def test_anonymous_users_go_to_the_hosts_login_url(guest_site, client):
    response = client.get(PREFIX + "latency/")
    assert response.status_code == 302
    assert response["Location"] == "/host/sign-in/?next=/ops/durable/latency/"


def test_at_the_site_root_there_is_no_link_back(viewer_client, settings):
    settings.DURABLE_HOST_HOME_URL = "/"
    assert "host-home" not in viewer_client.get("/").content.decode()


def test_the_health_page_links_to_health_only_where_the_host_routes_it(
    guest_site, viewer_client, settings
):
    """A host that did not include durable.observability.urls is told how, not sent to a 404."""
    content = viewer_client.get(PREFIX + "system/").content.decode()
    assert 'href="/health"' not in content
    assert 'include("durable.observability.urls")' in content
    settings.ROOT_URLCONF = "config.urls"  # this repository's site routes /health
    assert '<a href="/health">/health</a>' in viewer_client.get("/system/").content.decode()


def test_log_out_lands_on_the_dashboards_log_in_unless_the_host_says_where(
    viewer, viewer_client, settings
):
    """A fresh project has no LOGOUT_REDIRECT_URL: Django then shows the admin's "Logged
    out" page, whose "Log in again" goes to the admin, a dead end for a viewer who is not
    staff. The dashboard's log-out sends the user back to it (and so to its log-in)."""
    settings.LOGOUT_REDIRECT_URL = None
    page = viewer_client.get("/").content.decode()
    assert '<input type="hidden" name="next" value="/">' in page
    landed = viewer_client.post("/accounts/logout/", {"next": "/"})
    assert landed.status_code == 302 and landed.url == "/"
    assert viewer_client.get("/").url.startswith("/accounts/login/")

    settings.LOGOUT_REDIRECT_URL = "/host/bye/"  # the host's choice stands
    viewer_client.force_login(viewer)
    assert 'name="next"' not in viewer_client.get("/").content.decode()
