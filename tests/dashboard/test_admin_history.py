"""History is read-only in the admin; errors read as tracebacks, durations are rounded."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from durable.models import Attempt, AuditEntry, Executor, Step
from tests.dashboard.conftest import make_failed_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


def test_attempts_steps_and_audit_entries_cannot_be_edited(admin_client):
    run = make_failed_run(id="r")
    attempt = Attempt.objects.filter(run=run).first()
    step = Step.objects.get(run=run, position=1)
    entry = AuditEntry.objects.create(actor="a", action="resume", run_ids=["r"])
    for url in (
        f"/admin/durable/attempt/{attempt.pk}/change/",
        f"/admin/durable/step/{step.pk}/change/",
        f"/admin/durable/auditentry/{entry.pk}/change/",
        "/admin/durable/run/r/change/",
    ):
        page = admin_client.get(url).content.decode()
        assert 'name="_save"' not in page, url
    before = attempt.error_type
    admin_client.post(f"/admin/durable/attempt/{attempt.pk}/change/", {"error_type": "x"})
    assert Attempt.objects.get(pk=attempt.pk).error_type == before


def test_executors_cannot_be_added_by_hand(admin_client):
    assert admin_client.get("/admin/durable/executor/add/").status_code == 403
    Executor.objects.create(id="e", kind="thread", hostname="h", pid=1)
    assert (
        'name="_save"' not in admin_client.get("/admin/durable/executor/e/change/").content.decode()
    )


def test_the_run_page_offers_no_add_another_step(admin_client):
    make_failed_run(id="r")
    page = admin_client.get("/admin/durable/run/r/change/").content.decode()
    # the "Add another Step" link is drawn only when the formset may grow
    assert 'name="steps-MAX_NUM_FORMS" value="0"' in page


def test_errors_show_as_tracebacks_and_durations_are_rounded(admin_client):
    run = make_failed_run(id="r", active_ms=2345.6789)
    Step.objects.filter(run=run, position=0).update(duration_ms=1234.5678)
    page = admin_client.get("/admin/durable/run/r/change/").content.decode()
    assert "<pre" in page and "Traceback: boom" in page and "&quot;traceback&quot;" not in page
    assert "1.2 s" in page and "1234.5678" not in page
    assert "2.3 s" in page and "2345.6789" not in page


def test_admin_actions_take_a_reason_for_the_audit_log(admin_client):
    from durable.models import AuditEntry

    make_failed_run(id="r", workflow="not.registered")
    admin_client.post(
        "/admin/durable/run/",
        {"action": "resume_runs", "_selected_action": ["r"], "reason": "INC-3 fixed"},
    )
    assert AuditEntry.objects.get(action="resume").detail["reason"] == "INC-3 fixed"
