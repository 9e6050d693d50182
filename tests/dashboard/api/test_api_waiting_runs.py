"""A waiting run's ways out over the API, as on its page: move it to another queue, run it
first, raise the limit that holds it. Each needs an operate token and a reason, acts once
per request id, and is audited naming the token's user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from durable import operations, queues
from durable.models import AuditEntry, Run
from tests.dashboard.conftest import make_run

pytestmark = pytest.mark.django_db


def _waiting(run_id: str, queue: str = "mail") -> Run:
    due = timezone.now() - timedelta(seconds=10)
    return make_run(id=run_id, status="ENQUEUED", queue=queue, available_at=due,
                    started_at=None, finished_at=None)  # fmt: skip


def test_move_sends_a_waiting_run_to_another_queue_audited_as_the_token_user(
    operator_api, operate_token
):
    _waiting("mine")
    body = {"run_id": "mine", "queue": "fast", "reason": "mail is backed up"}
    response = operator_api.post("/runs/actions/move", body)
    assert response.status_code == 200, response.content
    assert response.json()["result_run_id"] == "mine"
    assert Run.objects.get(id="mine").queue == "fast"
    entry = AuditEntry.objects.get(action="move")
    assert entry.actor == f"owner via API token {operate_token.token.prefix}"
    assert (entry.detail["queue"], entry.detail["reason"]) == ("fast", "mail is backed up")


def test_move_of_a_run_not_waiting_is_refused_in_the_engines_words(operator_api):
    make_run(id="done")
    response = operator_api.post(
        "/runs/actions/move", {"run_id": "done", "queue": "fast", "reason": "x"}
    )
    assert response.status_code == 409
    assert "only an enqueued run waits in line" in response.json()["detail"]
    assert Run.objects.get(id="done").queue == "default"


def test_move_names_a_bad_queue_in_the_dashboards_words(operator_api):
    _waiting("mine")
    for queue, words in (("q\x07<x>", "control characters"), ("", "")):
        body = {"run_id": "mine", "queue": queue, "reason": "x"}
        response = operator_api.post("/runs/actions/move", body)
        assert response.status_code == 400, response.content
        assert [e["field"] for e in response.json()["errors"]] == ["queue"]
        assert words in response.json()["detail"]
    assert Run.objects.get(id="mine").queue == "mail"


def test_run_first_gives_a_waiting_run_the_highest_priority_audited(operator_api, operate_token):
    _waiting("mine")
    response = operator_api.post("/runs/actions/run-first", {"run_id": "mine", "reason": "INC-1"})
    assert response.status_code == 200, response.content
    assert Run.objects.get(id="mine").priority == operations.RUN_FIRST
    entry = AuditEntry.objects.get(action="prioritize")
    assert entry.actor == f"owner via API token {operate_token.token.prefix}"
    assert (entry.run_ids, entry.detail["reason"]) == (["mine"], "INC-1")


@pytest.mark.parametrize("path", ["/runs/actions/move", "/runs/actions/run-first"])
def test_a_waiting_runs_way_out_needs_a_reason(operator_api, path):
    _waiting("mine")
    for body in (
        {"run_id": "mine", "queue": "fast"},
        {"run_id": "mine", "queue": "f", "reason": "  "},
    ):
        response = operator_api.post(path, body)
        assert response.status_code == 400, response.content
        assert response.json()["errors"][0]["field"] == "reason"
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("path", ["/runs/actions/move", "/runs/actions/run-first"])
def test_a_view_token_cannot_move_or_run_first(view_api, path):
    _waiting("mine")
    response = view_api.post(path, {"run_id": "mine", "queue": "fast", "reason": "x"})
    assert response.status_code == 403
    assert Run.objects.get(id="mine").queue == "mail" and not AuditEntry.objects.exists()


@pytest.mark.parametrize("path", ["/runs/actions/move", "/runs/actions/run-first"])
def test_the_same_request_id_moves_or_prioritizes_once(operator_api, path):
    _waiting("mine")
    body = {"run_id": "mine", "reason": "x", "request_id": "k-1"}
    if path.endswith("move"):
        body["queue"] = "fast"
    first = operator_api.post(path, body)
    second = operator_api.post(path, {**body, "reason": "sent again"})
    assert first.status_code == second.status_code == 200, second.content
    assert (first.json()["repeated"], second.json()["repeated"]) == (False, True)
    assert AuditEntry.objects.count() == 1


def test_raise_limit_raises_one_limit_and_keeps_the_others(operator_api, operate_token):
    _waiting("mine")
    queues.set_limits("mail", concurrency=1, worker_concurrency=3, rate_limit=(5, 30.0),
                      actor="ops")  # fmt: skip
    body = {"name": "mail", "limit": "rate_limit", "value": 20, "reason": "campaign"}
    response = operator_api.post("/queues/actions/raise-limit", body)
    assert response.status_code == 200, response.content
    limits = queues.stored_limits("mail")
    assert (limits.concurrency, limits.worker_concurrency) == (1, 3)
    assert limits.rate_limit == (20, 30.0)  # the window kept, as the dashboard keeps it
    body = {"name": "mail", "limit": "concurrency", "value": 4, "reason": "campaign"}
    assert operator_api.post("/queues/actions/raise-limit", body).json()["concurrency"] == 4
    entry = AuditEntry.objects.filter(action="queue_set_limits").latest("id")
    assert entry.actor == f"owner via API token {operate_token.token.prefix}"
    assert entry.detail["reason"] == "campaign"


def test_raise_limit_refuses_bad_input_naming_the_field(operator_api, view_api):
    queues.set_limits("mail", concurrency=1, actor="ops")
    base = {"name": "mail", "limit": "concurrency", "value": 2, "reason": "x"}
    for bad, field in (({"limit": "sky"}, "limit"), ({"value": 0}, "value"),
                       ({"reason": " "}, "reason")):  # fmt: skip
        response = operator_api.post("/queues/actions/raise-limit", {**base, **bad})
        assert response.status_code == 400, response.content
        assert response.json()["errors"][0]["field"] == field
    unknown = operator_api.post("/queues/actions/raise-limit", {**base, "name": "nope"})
    assert unknown.status_code == 404
    assert view_api.post("/queues/actions/raise-limit", base).status_code == 403
    assert queues.stored_limits("mail").concurrency == 1
