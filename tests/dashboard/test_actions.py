"""Resume, restart, cancel and fork from the run page: POST + CSRF, operate_runs, audited."""

from __future__ import annotations

import pytest
from django.test import Client

import durable
from durable.models import AuditEntry, Run
from tests.dashboard.conftest import (
    make_dead_owners_run,
    make_failed_run,
    make_run,
    wait_until_finished,
)
from tests.dashboard.workflows import order


@pytest.fixture
def failed_order(engine) -> str:
    handle = durable.start(order, 7, True, run_id="order-7")
    assert wait_until_finished(handle.run_id) == "ERROR"
    return handle.run_id


@pytest.mark.parametrize("action", ["resume", "restart", "cancel", "fork"])
def test_a_viewer_gets_403_on_every_action(viewer_client, action):
    make_failed_run(id="r-1")
    response = viewer_client.post(f"/actions/{action}/", {"run_id": "r-1", "from_step": 0})
    assert response.status_code == 403
    assert not AuditEntry.objects.exists()


def test_a_stranger_gets_403(stranger_client):
    make_failed_run(id="r-1")
    assert stranger_client.post("/actions/resume/", {"run_id": "r-1"}).status_code == 403


def test_anonymous_posts_are_sent_to_log_in(client, db):
    assert client.post("/actions/resume/", {"run_id": "r-1"}).status_code == 302


def test_actions_refuse_get(owner_client):
    assert owner_client.get("/actions/resume/?run_id=r-1").status_code == 405


def test_actions_without_a_csrf_token_are_rejected(owner):
    make_failed_run(id="r-1")
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/actions/resume/", {"run_id": "r-1"}).status_code == 403
    assert Run.objects.get(id="r-1").status == "ERROR"


def test_actions_with_the_page_csrf_token_go_through(owner, engine):
    make_failed_run(id="r-1", workflow="not.registered")
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    page = client.get("/runs/r-1/")
    token = page.cookies["csrftoken"].value
    response = client.post("/actions/cancel/", {"run_id": "r-1", "csrfmiddlewaretoken": token})
    assert response.status_code == 302  # refused (it's not running), but accepted as a request


def test_resume_continues_the_same_run_to_success_and_is_audited(owner_client, failed_order):
    response = owner_client.post("/actions/resume/", {"run_id": failed_order}, follow=True)
    assert response.redirect_chain[-1][0] == f"/runs/{failed_order}/"
    assert "Resumed" in response.content.decode()
    assert wait_until_finished(failed_order) == "ERROR"  # the input still says fail: it fails again
    entry = AuditEntry.objects.get(action="resume")
    assert entry.actor == "owner" and entry.run_ids == [failed_order]


def test_restart_creates_a_new_run_and_links_to_it(owner_client, failed_order):
    response = owner_client.post("/actions/restart/", {"run_id": failed_order})
    new_id = response["Location"].split("/")[-2]
    assert new_id != failed_order
    assert Run.objects.get(id=new_id).forked_from_id == failed_order
    page = owner_client.get(response["Location"]).content.decode()
    assert f"/runs/{failed_order}/" in page and f"/runs/{new_id}/" in page


def test_fork_from_the_failed_step_with_edited_input_completes(owner_client, failed_order):
    edited = '{"args": [7, false], "kwargs": {}}'
    response = owner_client.post(
        "/actions/fork/", {"run_id": failed_order, "from_step": 1, "input": edited}
    )
    new_id = response["Location"].split("/")[-2]
    assert wait_until_finished(new_id) == "SUCCESS"
    fork = Run.objects.get(id=new_id)
    assert (fork.forked_from_id, fork.forked_from_step) == (failed_order, 1)
    assert fork.steps.get(position=0).output == "res-7"  # the checkpoint was reused
    assert AuditEntry.objects.get(action="fork").detail["from_step"] == 1


def test_fork_with_invalid_json_changes_nothing(owner_client, engine):
    make_failed_run(id="r-1")
    response = owner_client.post(
        "/actions/fork/", {"run_id": "r-1", "from_step": 1, "input": "{not json"}, follow=True
    )
    assert "is not valid JSON" in response.content.decode()
    assert Run.objects.count() == 1 and not AuditEntry.objects.exists()


def test_a_refused_action_says_why_and_changes_nothing(owner_client, engine):
    make_run(id="done")
    response = owner_client.post("/actions/resume/", {"run_id": "done"}, follow=True)
    assert "already succeeded" in response.content.decode()
    assert Run.objects.get(id="done").status == "SUCCESS"


def test_cancel_stops_an_enqueued_run(owner_client, engine):
    make_run(
        id="waiting",
        status="ENQUEUED",
        started_at=None,
        finished_at=None,
        workflow="not.registered",
    )
    owner_client.post("/actions/cancel/", {"run_id": "waiting", "reason": "bad deploy"})
    run = Run.objects.get(id="waiting")
    assert (run.status, run.cancel_reason) == ("CANCELLED", "bad deploy")


def test_a_cancel_its_executor_did_not_confirm_says_so(owner_client, engine):
    make_run(
        id="orphaned",
        status="RUNNING",
        finished_at=None,
        executor_id="thread:gone:1:dead",
        workflow="not.registered",
    )
    response = owner_client.post("/actions/cancel/", {"run_id": "orphaned"}, follow=True)
    page = response.content.decode()
    assert Run.objects.get(id="orphaned").status == "CANCELLED"
    assert "not confirmed" in page and "thread:gone:1:dead" in page


def test_a_cancel_of_a_run_whose_executor_died_says_what_happens_next(
    owner_client, engine, short_lease
):
    make_dead_owners_run("orphaned")
    response = owner_client.post("/actions/cancel/", {"run_id": "orphaned"}, follow=True)
    page = response.content.decode()
    assert "died" in page and "stays CANCELLED" in page and "resume" in page
