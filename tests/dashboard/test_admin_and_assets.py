"""Admin actions call durable.operations as the admin user; plotly.js is served locally."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from durable.models import AuditEntry, Run
from tests.dashboard.conftest import make_failed_run, make_run


@pytest.fixture
def admin_client(engine) -> Client:
    user = User.objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(user)
    return client


def test_admin_lists_runs_with_filters(admin_client):
    make_failed_run(id="r-1")
    response = admin_client.get("/admin/durable/run/?status__exact=ERROR")
    assert response.status_code == 200 and b"r-1" in response.content


def test_admin_resume_action_is_audited_as_the_admin(admin_client):
    make_failed_run(id="r-1", workflow="not.registered")
    response = admin_client.post(
        "/admin/durable/run/", {"action": "resume_runs", "_selected_action": ["r-1"]}, follow=True
    )
    assert response.status_code == 200
    assert Run.objects.get(id="r-1").status == "ENQUEUED"
    assert AuditEntry.objects.get().actor == "root"


def test_admin_cancel_says_which_stops_no_executor_confirmed(admin_client):
    make_run(
        id="r-2", status="RUNNING", finished_at=None,
        executor_id="thread:gone:1:dead", workflow="not.registered",
    )  # fmt: skip
    response = admin_client.post(
        "/admin/durable/run/", {"action": "cancel_runs", "_selected_action": ["r-2"]}, follow=True
    )
    assert Run.objects.get(id="r-2").status == "CANCELLED"
    assert "not confirmed" in response.content.decode()


def test_staff_without_operate_permission_has_no_run_actions(engine):
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_run"))
    client = Client()
    client.force_login(user)
    content = client.get("/admin/durable/run/").content.decode()
    assert "resume_runs" not in content


def test_plotly_js_is_served_from_the_plotly_package(client, db):
    import plotly

    response = client.get(f"/assets/plotly-{plotly.__version__}.min.js")
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]
    assert b"plotly" in b"".join(response.streaming_content)[:2000].lower()
