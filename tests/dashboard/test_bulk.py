"""Bulk actions: a preview of what each action touches, then batches with a summary."""

from __future__ import annotations

import re
import time

import pytest

from dashboard import bulk
from durable.models import AuditEntry, BulkJob, Run
from durable.operations import _jobs
from tests.dashboard.conftest import make_failed_run, make_run


def test_a_viewer_cannot_preview_or_run_bulk_actions(viewer_client, db):
    make_failed_run(id="r-1")
    assert viewer_client.get("/bulk/?action=resume&scope=matching").status_code == 403
    response = viewer_client.post(
        "/actions/bulk/",
        {"action": "resume", "scope": "matching", "as_of": "2030-01-01T00:00:00+00:00", "total": 1},
    )
    assert response.status_code == 403
    assert Run.objects.get(id="r-1").status == "ERROR"


def test_preview_counts_what_the_action_changes_and_what_it_refuses(owner_client, db):
    for _ in range(3):
        make_failed_run(workflow="shop.order")
    make_run(workflow="shop.order")
    content = owner_client.get("/bulk/?action=resume&scope=matching&workflow=shop.order")
    text = content.content.decode()
    assert "<strong>3</strong> runs will be resumed" in text
    assert "<strong>1</strong> will be refused" in text


def test_preview_of_nothing_selected_explains(owner_client, db):
    response = owner_client.get("/bulk/?action=resume&scope=selected")
    assert "Tick at least one run" in response.content.decode()


def _start(client, **data) -> str:
    response = client.post("/actions/bulk/", data)
    assert response.status_code == 200, response.content
    return response.content.decode()


def drive(client, html: str, timeout: float = 60) -> str:
    """Poll the job's progress, as the page does, until the executors finish it."""
    url = re.search(r'hx-get="(/jobs/[^"]+/)"', html)
    deadline = time.monotonic() + timeout
    while url and "Done: " not in html:
        assert time.monotonic() < deadline, "the job never finished"
        time.sleep(0.1)
        html = client.get(url.group(1), HTTP_HX_REQUEST="true").content.decode()
    return html


def test_selected_runs_are_resumed_and_refusals_are_summarised(owner_client, engine):
    make_failed_run(id="bad-1", workflow="not.registered")
    make_run(id="fine-1")
    text = drive(owner_client, _start(
        owner_client,
        action="resume",
        scope="selected",
        run_ids=["bad-1", "fine-1"],
        as_of="2030-01-01T00:00:00+00:00",
        total=2,
        reason="provider fixed",
    ))  # fmt: skip
    assert "Done: resume" in text
    assert "already succeeded" in text
    assert Run.objects.get(id="bad-1").status == "ENQUEUED"
    assert AuditEntry.objects.get(action="resume").actor == "owner"


def test_all_matching_runs_are_processed_in_batches_by_one_request(
    owner_client, engine, monkeypatch
):
    monkeypatch.setattr(_jobs, "BATCH", 2)
    for index in range(5):
        make_failed_run(id=f"bad-{index}", workflow="not.registered")
    make_run(id="other", workflow="shop.other", status="ERROR")
    state = {
        "action": "cancel",
        "scope": "matching",
        "workflow": "not.registered",
        "as_of": "2030-01-01T00:00:00+00:00",
        "total": 5,
        "reason": "INC-7 cleanup",
    }
    text = drive(owner_client, _start(owner_client, **state))
    assert "5 refused" not in text and "only enqueued or running runs can be cancelled" in text
    assert AuditEntry.objects.filter(action="cancel").count() == 3
    assert Run.objects.get(id="other").status == "ERROR"


def test_restart_all_never_touches_the_runs_it_created(owner_client, engine, monkeypatch):
    monkeypatch.setattr(_jobs, "BATCH", 1)
    make_failed_run(id="bad-0", workflow="not.registered")
    from django.utils import timezone

    state = {
        "action": "restart",
        "scope": "matching",
        "workflow": "not.registered",
        "as_of": timezone.now().isoformat(),
        "total": 1,
        "reason": "INC-7 retry",
    }
    assert "Done: restart" in drive(owner_client, _start(owner_client, **state))
    assert Run.objects.filter(workflow="not.registered").count() == 2


@pytest.mark.parametrize("action,eligible", [("cancel", 1), ("resume", 2), ("restart", 4)])
def test_eligibility_by_status(action, eligible):
    breakdown = {"RUNNING": 1, "ERROR": 1, "DEAD": 1, "SUCCESS": 1}
    assert bulk.eligible_count(action, breakdown) == eligible


def test_a_bulk_action_without_a_reason_is_refused(owner_client, db):
    make_failed_run(id="bad-1")
    response = owner_client.post(
        "/actions/bulk/",
        {
            "action": "resume",
            "scope": "selected",
            "run_ids": ["bad-1"],
            "total": 1,
            "as_of": "2030-01-01T00:00:00+00:00",
        },
    )
    assert response.status_code == 400 and b"reason" in response.content
    assert Run.objects.get(id="bad-1").status == "ERROR"


def test_the_bulk_reason_reaches_the_audit_log(owner_client, engine):
    make_failed_run(id="bad-1", workflow="not.registered")
    drive(owner_client, _start(
        owner_client,
        action="resume",
        scope="selected",
        run_ids=["bad-1"],
        as_of="2030-01-01T00:00:00+00:00",
        total=1,
        reason="INC-42 provider back",
    ))  # fmt: skip
    assert AuditEntry.objects.get(action="resume").detail["reason"] == "INC-42 provider back"
    assert "INC-42 provider back" in owner_client.get("/audit/").content.decode()


def test_a_bulk_cancel_says_which_stops_no_executor_confirmed(owner_client, engine):
    make_run(
        id="orphan-1", status="RUNNING", finished_at=None,
        executor_id="thread:gone:1:dead", workflow="not.registered",
    )  # fmt: skip
    text = drive(owner_client, _start(
        owner_client,
        action="cancel",
        scope="selected",
        run_ids=["orphan-1"],
        as_of="2030-01-01T00:00:00+00:00",
        total=1,
        reason="bad deploy",
    ))  # fmt: skip
    assert Run.objects.get(id="orphan-1").status == "CANCELLED"
    assert "not confirmed" in text and "thread:gone:1:dead" in text


def test_the_bulk_page_holds_the_matching_runs_and_releases_a_selection(owner_client, engine):
    make_run(id="wait-1", workflow="not.registered", status="ENQUEUED", finished_at=None)
    make_run(id="done-1", workflow="not.registered")
    held = drive(owner_client, _start(
        owner_client, action="hold", scope="matching", workflow="not.registered",
        as_of="2030-01-01T00:00:00+00:00", total=2, reason="INC-12 provider down",
    ))  # fmt: skip
    assert "Done: hold" in held and "only enqueued or running runs can be held" in held
    assert Run.objects.get(id="wait-1").hold_reason == "INC-12 provider down"
    assert Run.objects.get(id="done-1").held_at is None
    released = drive(owner_client, _start(
        owner_client, action="release", scope="selected", run_ids=["wait-1"],
        as_of="2030-01-01T00:00:00+00:00", total=1, reason="INC-12 over",
    ))  # fmt: skip
    assert "Done: release" in released
    assert Run.objects.get(id="wait-1").held_at is None
    assert AuditEntry.objects.get(action="release").actor == "owner"


def test_a_preview_confirmed_again_for_another_action_starts_nothing_and_says_so(owner_client, db):
    """The preview's token identifies one job: sent again with another action (the action
    changed after the preview), nothing else starts and the operator is told what to do."""
    make_failed_run(id="r-once")
    token = "6f1c2a9e-0d4b-4b8e-9a37-3c1d2e5f7a10"
    form = {"scope": "selected", "run_ids": ["r-once"], "as_of": "2030-01-01T00:00:00+00:00",
            "total": 1, "reason": "once", "token": token}  # fmt: skip
    _start(owner_client, action="hold", **form)
    refused = owner_client.post("/actions/bulk/", {**form, "action": "cancel"})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "This preview already started a bulk hold job" in text
    assert "To cancel these runs, preview again and confirm." in text
    assert "dashboard:" not in text  # not the form's internal request id
    assert BulkJob.objects.count() == 1
