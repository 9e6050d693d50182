"""Drain and undrain an executor from the health page: POST + CSRF, operate_runs, audited."""

from __future__ import annotations

import pytest
from django.test import Client

from durable.models import AuditEntry, Executor

pytestmark = pytest.mark.django_db

EXECUTOR = "thread:host:7"


@pytest.fixture
def executor() -> Executor:
    return Executor.objects.create(id=EXECUTOR, kind="thread", hostname="host", pid=7)


def test_an_operator_drains_an_executor_and_it_is_audited(owner_client, executor):
    response = owner_client.post(
        "/actions/drain/", {"executor_id": EXECUTOR, "reason": "deploy", "release_after": "60"}
    )
    assert response.status_code == 302 and response["Location"].endswith("/system/")
    executor.refresh_from_db()
    assert executor.draining and executor.drain_release_at is not None
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == ("owner", "drain")
    assert entry.detail == {"executor": EXECUTOR, "reason": "deploy", "release_after": 60.0}


def test_the_health_page_shows_the_state_and_the_matching_button(owner_client, executor):
    page = owner_client.get("/system/").content.decode()
    assert ">live</span>" in page and "Drain executor" in page and ">Undrain<" not in page
    owner_client.post("/actions/drain/", {"executor_id": EXECUTOR})
    page = owner_client.get("/system/").content.decode()
    assert ">draining</span>" in page and ">Undrain<" in page and "Drain executor" not in page


def test_an_operator_undrains_an_executor(owner_client, executor):
    Executor.objects.filter(id=EXECUTOR).update(draining=True)
    owner_client.post("/actions/undrain/", {"executor_id": EXECUTOR})
    assert not Executor.objects.get(id=EXECUTOR).draining
    assert AuditEntry.objects.get().action == "undrain"


def test_a_viewer_sees_no_button_and_may_not_drain(viewer_client, executor):
    assert "Drain executor" not in viewer_client.get("/system/").content.decode()
    assert viewer_client.post("/actions/drain/", {"executor_id": EXECUTOR}).status_code == 403
    assert not Executor.objects.get(id=EXECUTOR).draining


def test_drain_is_post_only_and_needs_the_csrf_token(owner, owner_client, executor):
    assert owner_client.get("/actions/drain/").status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/actions/drain/", {"executor_id": EXECUTOR}).status_code == 403
    assert not AuditEntry.objects.exists()


def test_draining_a_gone_executor_says_so(owner_client):
    response = owner_client.post("/actions/drain/", {"executor_id": "thread:gone:1"}, follow=True)
    assert "Nothing changed: no executor &#x27;thread:gone:1&#x27;" in response.content.decode()


def test_the_audit_log_names_the_drained_executor(owner_client, executor):
    owner_client.post("/actions/drain/", {"executor_id": EXECUTOR, "release_after": "90"})
    page = owner_client.get("/audit/?action=drain").content.decode()
    assert f'executor <span class="mono">{EXECUTOR}</span>, release runs after 90.0 s' in page
