"""The run page links to the team's trace UI through DURABLE_TRACE_URL_TEMPLATE."""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from django.test import Client

from durable.observability.tracing import trace_id_for
from tests.dashboard.conftest import make_run


def viewer_client() -> Client:
    user = User.objects.create_user("viewer", password="pw")
    user.user_permissions.set(Permission.objects.filter(codename="view_runs"))
    client = Client()
    client.force_login(user)
    return client


def test_run_page_links_to_the_runs_trace(db, settings):
    settings.DURABLE_TRACE_URL_TEMPLATE = "https://tempo.example/trace/{trace_id}"
    run = make_run(id="link-1")
    page = viewer_client().get(f"/runs/{run.id}/").content.decode()
    assert f'href="https://tempo.example/trace/{trace_id_for("link-1"):032x}"' in page


def test_run_page_has_no_trace_link_without_a_template(db, settings):
    settings.DURABLE_TRACE_URL_TEMPLATE = ""
    run = make_run(id="link-2")
    page = viewer_client().get(f"/runs/{run.id}/").content.decode()
    assert page.count("link-2") > 0
    assert 'id="trace-link"' not in page
