"""Hold and release from the run page: POST + CSRF, operate_runs, audited; a held run is
shown held (with its reason and a Release button) on its page and in the runs list."""

from __future__ import annotations

import pytest
from django.test import Client

from durable.models import AuditEntry, Run
from tests.dashboard.conftest import make_run


def _enqueued(run_id: str) -> Run:
    return make_run(id=run_id, status="ENQUEUED", workflow="not.registered", finished_at=None)


@pytest.mark.parametrize("action", ["hold", "release"])
def test_a_viewer_gets_403_on_hold_and_release(viewer_client, action):
    _enqueued("h-1")
    assert viewer_client.post(f"/actions/{action}/", {"run_id": "h-1"}).status_code == 403
    assert not AuditEntry.objects.exists()
    assert Run.objects.get(id="h-1").held_at is None


def test_hold_without_a_csrf_token_is_rejected(owner):
    _enqueued("h-1")
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/actions/hold/", {"run_id": "h-1"}).status_code == 403
    assert Run.objects.get(id="h-1").held_at is None


def test_a_held_run_shows_held_with_its_reason_and_a_release_button(owner_client):
    _enqueued("h-1")
    page = owner_client.get("/runs/h-1/").content.decode()
    assert 'id="hold-button"' in page and 'id="release-button"' not in page

    response = owner_client.post(
        "/actions/hold/", {"run_id": "h-1", "reason": "provider down"}, follow=True
    )
    page = response.content.decode()
    assert "Held" in page and 'id="run-held"' in page and "provider down" in page
    assert 'id="release-button"' in page and 'id="hold-button"' not in page
    assert 'class="tag held"' in owner_client.get("/").content.decode()
    entry = AuditEntry.objects.get(action="hold")
    assert (entry.actor, entry.run_ids, entry.detail["reason"]) == (
        "owner",
        ["h-1"],
        "provider down",
    )

    page = owner_client.post("/actions/release/", {"run_id": "h-1"}, follow=True).content.decode()
    assert "Released" in page and 'id="run-held"' not in page
    assert Run.objects.get(id="h-1").held_at is None
    assert AuditEntry.objects.get(action="release").actor == "owner"


def test_releasing_a_run_that_is_not_held_says_so_and_changes_nothing(owner_client):
    _enqueued("h-1")
    page = owner_client.post("/actions/release/", {"run_id": "h-1"}, follow=True).content.decode()
    assert "Nothing changed: it is not held; only a held run can be released" in page


def test_holding_a_finished_run_is_refused_with_the_reason(owner_client):
    make_run(id="done-1")
    page = owner_client.post("/actions/hold/", {"run_id": "done-1"}, follow=True).content.decode()
    assert "only enqueued or running runs can be held" in page
    assert Run.objects.get(id="done-1").held_at is None
