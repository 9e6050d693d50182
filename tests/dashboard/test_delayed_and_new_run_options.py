"""Delayed runs show their due time; restart and fork take a new run id, queue and timeout;
a finished run can be deleted from its page (operate_runs, POST + CSRF, audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from durable.models import AuditEntry, Run, Step
from tests.dashboard.conftest import make_failed_run, make_run


def _delayed(run_id: str, minutes: float) -> Run:
    return make_run(
        id=run_id,
        status="ENQUEUED",
        started_at=None,
        finished_at=None,
        workflow="not.registered",
        available_at=timezone.now() + timedelta(minutes=minutes),
    )


def test_the_runs_list_shows_when_a_delayed_run_is_due(viewer_client):
    _delayed("later", 5)
    make_run(id="plain", status="ENQUEUED", started_at=None, finished_at=None)
    page = viewer_client.get("/").content.decode()
    assert page.count("due in ") == 1
    assert "due in 4\xa0minutes" in page or "due in 5\xa0minutes" in page


def test_the_run_page_says_when_a_delayed_run_starts_and_why_it_waits(viewer_client):
    run = _delayed("later", 90)
    page = viewer_client.get("/runs/later/").content.decode()
    assert 'id="starts-at"' in page
    assert f"{run.available_at:%Y-%m-%d %H:%M:%S} UTC" in page
    assert "a delayed start: due at" in page


def test_a_sleeping_run_is_not_shown_as_a_delayed_start(viewer_client):
    make_run(
        id="napping",
        status="ENQUEUED",
        finished_at=None,
        available_at=timezone.now() + timedelta(minutes=5),
    )
    page = viewer_client.get("/runs/napping/").content.decode()
    assert 'id="starts-at"' not in page


def test_restart_onto_a_chosen_id_queue_and_timeout(owner_client, engine):
    make_failed_run(id="r-opt", workflow="not.registered")
    response = owner_client.post(
        "/actions/restart/",
        {"run_id": "r-opt", "new_run_id": "r-opt-2", "queue": "reruns", "timeout": "120"},
    )
    assert response["Location"] == "/runs/r-opt-2/"
    new = Run.objects.get(id="r-opt-2")
    assert (new.queue, new.forked_from_id) == ("reruns", "r-opt")
    assert timedelta(seconds=110) < new.deadline_at - new.created_at < timedelta(seconds=130)
    assert AuditEntry.objects.get(action="restart").detail["new_run_id"] == "r-opt-2"


def test_fork_onto_a_chosen_id_and_queue(owner_client, engine):
    make_failed_run(id="f-opt", workflow="not.registered")
    response = owner_client.post(
        "/actions/fork/",
        {"run_id": "f-opt", "from_step": 1, "new_run_id": "f-opt-2", "queue": "q2"},
    )
    assert response["Location"] == "/runs/f-opt-2/"
    assert Run.objects.get(id="f-opt-2").queue == "q2"
    assert Step.objects.filter(run_id="f-opt-2").count() == 1


def test_a_taken_new_run_id_is_refused_with_the_reason(owner_client, engine):
    make_failed_run(id="t-1", workflow="not.registered")
    make_run(id="t-2")
    response = owner_client.post(
        "/actions/restart/", {"run_id": "t-1", "new_run_id": "t-2"}, follow=True
    )
    assert "is taken by an existing run" in response.content.decode()
    assert not Run.objects.filter(forked_from_id="t-1").exists()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("new_run_id", "a~b", "reserved"),
        ("timeout", "-5", "greater than or equal"),
        ("timeout", "NaN", "Enter a number"),
        ("queue", "a\tb", "control characters"),
    ],
)
def test_bad_new_run_options_are_told_on_the_run_page(owner_client, engine, field, value, says):
    make_failed_run(id="b-1", workflow="not.registered")
    data = {"run_id": "b-1", "from_step": 1, field: value}
    for action in ("restart", "fork"):
        response = owner_client.post(f"/actions/{action}/", data, follow=True)
        assert response.redirect_chain[-1][0] == "/runs/b-1/"
        assert says in response.content.decode()
    assert Run.objects.count() == 1 and not AuditEntry.objects.exists()


def test_the_run_page_offers_new_run_options_and_delete_only_for_finished_runs(owner_client):
    make_failed_run(id="done-1")
    make_run(id="live-1", status="RUNNING", finished_at=None)
    finished = owner_client.get("/runs/done-1/").content.decode()
    assert 'name="new_run_id"' in finished and 'id="delete-button"' in finished
    assert 'id="delete-button"' not in owner_client.get("/runs/live-1/").content.decode()


def test_delete_removes_a_finished_run_audited_as_the_user(owner_client, engine):
    make_failed_run(id="gone")
    response = owner_client.post(
        "/actions/delete/", {"run_id": "gone", "reason": "test data"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
    assert "Deleted run gone" in response.content.decode()
    assert not Run.objects.filter(id="gone").exists()
    entry = AuditEntry.objects.get(action="delete")
    assert (entry.actor, entry.run_ids, entry.detail["reason"]) == ("owner", ["gone"], "test data")


def test_delete_refuses_a_running_run_and_says_why(owner_client, engine):
    make_run(id="busy", status="RUNNING", finished_at=None)
    response = owner_client.post("/actions/delete/", {"run_id": "busy"}, follow=True)
    assert "only finished runs can be deleted" in response.content.decode()
    assert Run.objects.filter(id="busy").exists()


def test_delete_needs_operate_runs_a_post_and_a_csrf_token(viewer_client, owner):
    make_failed_run(id="kept")
    assert viewer_client.post("/actions/delete/", {"run_id": "kept"}).status_code == 403
    assert viewer_client.get("/actions/delete/?run_id=kept").status_code in (403, 405)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post("/actions/delete/", {"run_id": "kept"}).status_code == 403
    assert Run.objects.filter(id="kept").exists() and not AuditEntry.objects.exists()


def test_the_runs_list_filters_delayed_runs(viewer_client):
    _delayed("later-1", 5)
    make_run(id="sleeping", status="ENQUEUED", available_at=timezone.now() + timedelta(hours=1))
    make_run(id="queued", status="ENQUEUED", started_at=None, finished_at=None)
    make_run(id="finished")
    page = viewer_client.get("/", {"delayed": "1"}).content.decode()
    assert "/runs/later-1/" in page
    assert not any(f"/runs/{other}/" in page for other in ("sleeping", "queued", "finished"))
    assert 'id="delayed-filter" checked' in page
