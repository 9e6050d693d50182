"""Operator actions over the API keep the dashboard's guarantees: the engine's words for a
refusal, a required reason, one action per request id, and an audit entry naming the
token's user and the token."""

from __future__ import annotations

import time

import pytest

import durable
from durable.models import AuditEntry, BulkJob, Run
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


def test_a_token_resumes_a_failed_run_and_the_audit_log_names_its_user(
    operator_api, operate_token, failed_order
):
    response = operator_api.post(
        "/runs/actions/resume", {"run_id": failed_order, "reason": "card service is back"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["result_run_id"] == failed_order
    assert wait_until_finished(failed_order) == "ERROR"  # the input still says fail
    entry = AuditEntry.objects.get(action="resume")
    assert entry.actor == f"owner via API token {operate_token.token.prefix}"
    assert entry.run_ids == [failed_order]
    assert entry.detail["reason"] == "card service is back"


def test_a_reason_is_required(operator_api, engine):
    make_failed_run(id="r-1")
    response = operator_api.post("/runs/actions/resume", {"run_id": "r-1"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"
    assert not AuditEntry.objects.exists()


def test_the_same_idempotency_key_acts_once(operator_api, failed_order):
    body = {"run_id": failed_order, "reason": "retry it"}
    first = operator_api.post("/runs/actions/restart", body, HTTP_IDEMPOTENCY_KEY="k-1")
    second = operator_api.post("/runs/actions/restart", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 200
    assert second.json()["repeated"] is True
    assert Run.objects.filter(forked_from_id=failed_order).count() == 1


def test_a_request_without_a_key_repeated_at_once_acts_once(operator_api, failed_order):
    body = {"run_id": failed_order, "reason": "retry it"}
    operator_api.post("/runs/actions/restart", body)
    operator_api.post("/runs/actions/restart", body)
    assert Run.objects.filter(forked_from_id=failed_order).count() == 1


def test_a_refusal_is_a_409_in_the_engines_words(operator_api, engine):
    make_run(id="done")
    response = operator_api.post("/runs/actions/resume", {"run_id": "done", "reason": "x"})
    assert response.status_code == 409
    assert "already succeeded" in response.json()["detail"]
    assert Run.objects.get(id="done").status == "SUCCESS"


def test_an_unknown_run_is_a_404(operator_api, engine):
    response = operator_api.post("/runs/actions/cancel", {"run_id": "nope", "reason": "x"})
    assert response.status_code == 404


def test_a_bad_run_id_names_the_field_with_the_dashboards_words(operator_api, engine):
    response = operator_api.post("/runs/actions/resume", {"run_id": "a\nb", "reason": "x"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "run_id"


def test_fork_with_edited_input_completes(operator_api, failed_order):
    response = operator_api.post(
        "/runs/actions/fork",
        {"run_id": failed_order, "from_step": 1, "reason": "fixed card",
         "input": {"args": [7, False]}},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    new_id = response.json()["result_run_id"]
    assert wait_until_finished(new_id) == "SUCCESS"
    assert Run.objects.get(id=new_id).steps.get(position=0).output == "res-7"


def test_fork_with_a_patched_output_reuses_the_patch(operator_api, failed_order):
    response = operator_api.post(
        "/runs/actions/fork",
        {"run_id": failed_order, "from_step": 1, "reason": "patch", "input": {"args": [7, False]},
         "patch": {"0": "res-patched"}},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    new_id = response.json()["result_run_id"]
    assert wait_until_finished(new_id) == "SUCCESS"
    assert Run.objects.get(id=new_id).output["reservation"] == "res-patched"


def test_cancel_stops_an_enqueued_run(operator_api, engine):
    make_run(id="waiting", status="ENQUEUED", started_at=None, finished_at=None,
             workflow="not.registered")  # fmt: skip
    response = operator_api.post("/runs/actions/cancel", {"run_id": "waiting", "reason": "bad"})
    assert response.status_code == 200
    assert response.json()["unconfirmed"] == {}  # nothing was running: nothing to confirm
    assert Run.objects.get(id="waiting").status == "CANCELLED"


def test_cancel_answers_at_once_when_the_runs_executor_died_and_says_what_happens_next(
    operator_api, engine, short_lease
):
    """Its lifeline lock is gone and it has been silent three heartbeats: no answer will
    come, so none is waited for (DURABLE_CANCEL_CONFIRM_SECONDS, 5 s), and the answer says
    the run stays cancelled and how to go on."""
    make_dead_owners_run("orphaned")
    started = time.monotonic()
    body = {"run_id": "orphaned", "reason": "bad deploy"}
    response = operator_api.post("/runs/actions/cancel", body)
    assert time.monotonic() - started < 2
    assert response.status_code == 200, response.content
    why = response.json()["unconfirmed"]["orphaned"]
    assert "died" in why and "stays CANCELLED" in why and "resume" in why, why
    assert Run.objects.get(id="orphaned").status == "CANCELLED"


def test_preview_lists_the_steps_that_run_again(operator_api, failed_order):
    response = operator_api.post(
        "/runs/actions/preview", {"action": "resume", "run_ids": [failed_order]}
    )
    assert response.status_code == 200
    assert response.json()["runs"] == 1
    assert not AuditEntry.objects.exists()


def test_a_bulk_resume_runs_as_a_job_and_reports_progress(operator_api, engine):
    for number in range(3):
        make_failed_run(id=f"r-{number}", workflow="not.registered")
    target = {"action": "cancel", "scope": "selected", "run_ids": ["r-0", "r-1", "r-2"]}
    preview = operator_api.post("/bulk/preview", target).json()
    assert (preview["total"], preview["eligible"]) == (3, 0)  # failed runs cannot be cancelled
    job = operator_api.post(
        "/bulk", {**target, "reason": "tidy", "token": preview["token"],
                  "as_of": preview["as_of"], "total": 3},
    )  # fmt: skip
    assert job.status_code == 200, job.content
    again = job.json()
    for _ in range(300):  # the executors carry the job out: the client only polls
        if again["finished"]:
            break
        time.sleep(0.1)
        again = operator_api.get(f"/bulk/{job.json()['id']}").json()
    assert again["finished"] is True and again["processed"] == 3 and again["state"] == "FINISHED"


def test_a_preview_token_starts_one_job_of_the_previewed_action(operator_api, engine, settings):
    settings.DURABLE_EXECUTOR = "external"  # the job waits: only its start is looked at
    make_failed_run(id="r-0", workflow="not.registered")
    target = {"action": "hold", "scope": "selected", "run_ids": ["r-0"]}
    preview = operator_api.post("/bulk/preview", target).json()
    start = {**target, "reason": "tidy", "token": preview["token"], "as_of": preview["as_of"],
             "total": 1}  # fmt: skip
    job = operator_api.post("/bulk", start).json()
    other = operator_api.post("/bulk", {**start, "action": "resume"})
    assert other.status_code == 409, other.content
    detail = other.json()["detail"]
    assert f"already started a bulk hold job ({job['id']})" in detail
    assert "preview the resume" in detail
    assert list(BulkJob.objects.values_list("action", flat=True)) == ["hold"]
    again = operator_api.post("/bulk", start)  # the same request again: the same job
    assert again.status_code == 200 and again.json()["id"] == job["id"]


def test_runs_list_filters_and_pages_by_cursor(view_api):
    for number in range(30):
        make_failed_run(id=f"r-{number:02}")
    make_run(id="ok")
    page = view_api.get("/runs", status="ERROR", limit=25).json()
    assert len(page["runs"]) == 25 and page["older"]
    rest = view_api.get("/runs", status="ERROR", limit=25, cursor=page["older"]).json()
    seen = {row["id"] for row in page["runs"] + rest["runs"]}
    assert len(seen) == 30 and "ok" not in seen


def test_a_bad_filter_names_the_field(view_api):
    response = view_api.get("/runs", tag="no-equals-sign")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "tag", "message": "Write a tag as key=value, e.g. customer=acme."}
    ]


def test_a_token_holds_and_releases_a_run_once_per_key_audited_as_its_user(
    operator_api, operate_token, engine
):
    make_run(id="wait-1", workflow="not.registered", status="ENQUEUED", finished_at=None)
    body = {"run_id": "wait-1", "reason": "INC-12 provider down"}
    first = operator_api.post("/runs/actions/hold", body, HTTP_IDEMPOTENCY_KEY="h-1")
    again = operator_api.post("/runs/actions/hold", body, HTTP_IDEMPOTENCY_KEY="h-1")
    assert first.status_code == again.status_code == 200, first.content
    assert again.json()["repeated"] is True
    assert Run.objects.get(id="wait-1").hold_reason == "INC-12 provider down"
    entry = AuditEntry.objects.get(action="hold")
    assert entry.actor == f"owner via API token {operate_token.token.prefix}"
    held_twice = operator_api.post("/runs/actions/hold", {**body, "request_id": "h-2"})
    assert held_twice.status_code == 409 and "held already" in held_twice.json()["detail"]
    assert operator_api.post("/runs/actions/release", {"run_id": "wait-1"}).status_code == 400
    released = operator_api.post("/runs/actions/release", {"run_id": "wait-1", "reason": "over"})
    assert released.status_code == 200, released.content
    assert Run.objects.get(id="wait-1").held_at is None
    refused = operator_api.post("/runs/actions/release", {"run_id": "wait-1", "reason": "again"})
    assert refused.status_code == 409 and "not held" in refused.json()["detail"]


def test_a_bulk_job_is_paused_and_aborted_with_a_reason_as_on_its_page(
    operator_api, engine, settings
):
    settings.DURABLE_EXECUTOR = "external"  # the job waits: only its controls are looked at
    make_failed_run(id="r-0", workflow="not.registered")
    target = {"action": "hold", "scope": "selected", "run_ids": ["r-0"]}
    preview = operator_api.post("/bulk/preview", target).json()
    job = operator_api.post("/bulk", {**target, "reason": "tidy", "token": preview["token"],
                                      "as_of": preview["as_of"], "total": 1}).json()  # fmt: skip
    paused = operator_api.post(f"/bulk/{job['id']}/pause")  # the reason is optional
    assert paused.status_code == 200 and paused.json()["state"] == "PAUSED", paused.content
    aborted = operator_api.post(f"/bulk/{job['id']}/abort", {"reason": "wrong filter"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "ABORTED", aborted.content
    entry = AuditEntry.objects.get(action="bulk_job_abort")
    assert entry.detail["reason"] == "wrong filter" and "via API token" in entry.actor
