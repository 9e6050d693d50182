"""The HTTP API shows and does what the dashboard does: why a run failed, that it is held or
imported, the refusal a fork would meet, run-first on a restart; a reason must say
something; every endpoint docs/api.md names is served."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

import durable
from durable import operations
from durable.models import AuditEntry, Run
from tests.dashboard.conftest import make_failed_run, make_run, wait_until_finished
from tests.dashboard.workflows import order

DOCS = Path(__file__).resolve().parents[3] / "docs" / "api.md"


@pytest.fixture
def failed_order(engine) -> str:
    handle = durable.start(order, 7, True, run_id="order-7")
    assert wait_until_finished(handle.run_id) == "ERROR"
    return handle.run_id


# --- a run as the API shows it: why it failed, held, imported ----------------------------


def test_a_run_read_through_the_api_says_why_it_failed(operator_api, engine):
    """The run page shows the error's message and traceback; a runbook reading the run over
    the API gets only the error's type (DESIGN: errors with tracebacks are never lost)."""
    make_failed_run(id="r-failed", message="card declined for order 42")
    body = operator_api.get("/runs/r-failed").json()
    assert "card declined for order 42" in str(body["run"])
    assert "Traceback: boom" in str(body["run"])
    failed_step = next(step for step in body["steps"] if step["status"] == "ERROR")
    assert "card declined for order 42" in str(failed_step)
    assert all("card declined for order 42" in str(attempt) for attempt in body["attempts"])


def test_a_held_run_is_held_on_the_runs_list_and_the_run_through_the_api(operator_api, engine):
    """A held run is ENQUEUED by status; the dashboard marks it held, the API does not."""
    make_run(id="parked", status="ENQUEUED", finished_at=None, held_at=timezone.now())
    row = operator_api.get("/runs").json()["runs"][0]
    assert row["id"] == "parked"
    assert row.get("held_at") is not None or row.get("held") is True
    run = operator_api.get("/runs/parked").json()["run"]
    assert run.get("held_at") is not None or run.get("held") is True


def test_the_runs_list_through_the_api_marks_imported_runs(operator_api, engine):
    """Issue 21: imported runs are marked as imported everywhere (the runs page does)."""
    make_run(id="from-file", imported=True)
    make_run(id="made-here")
    rows = {row["id"]: row for row in operator_api.get("/runs").json()["runs"]}
    assert rows["from-file"].get("imported") is True
    assert rows["made-here"].get("imported") is False


# --- actions ------------------------------------------------------------------------------


def test_a_reason_of_only_spaces_is_no_reason(operator_api, failed_order):
    response = operator_api.post("/runs/actions/resume", {"run_id": failed_order, "reason": "   "})
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "reason"
    assert not AuditEntry.objects.filter(action="resume").exists()


def test_a_restart_can_run_first_as_on_the_dashboard(operator_api, failed_order):
    """The dashboard's restart has a "Run first" box; the API drops `run_first` silently."""
    response = operator_api.post(
        "/runs/actions/restart",
        {"run_id": failed_order, "reason": "urgent", "new_run_id": "again-1", "run_first": True},
    )
    assert response.status_code == 200, response.content
    assert Run.objects.get(id="again-1").priority == operations.RUN_FIRST


def test_a_fork_preview_says_when_the_fork_would_be_refused(operator_api, failed_order):
    """The fork itself is a 409 ("step 1 failed and ended the run ..."); the preview answers
    200 "no recorded step runs again" and drops the engine's refusal."""
    fork = operator_api.post(
        "/runs/actions/fork", {"run_id": failed_order, "reason": "x", "from_step": 9}
    )
    assert fork.status_code == 409
    preview = operator_api.post(
        "/runs/actions/preview", {"action": "fork", "run_ids": [failed_order], "from_step": 9}
    )
    assert preview.status_code in (200, 409), preview.content
    said = str(preview.json())
    assert "step 1 failed and ended the run" in said, said


def test_a_preview_of_a_run_that_does_not_exist_says_so(operator_api, engine):
    """Every action on an unknown run is a 404; the preview counts it as "1 run"."""
    response = operator_api.post(
        "/runs/actions/preview", {"action": "restart", "run_ids": ["no-such-run"]}
    )
    assert response.status_code == 404, response.content


# --- docs/api.md ---------------------------------------------------------------------------


def test_every_bulk_job_verb_the_docs_name_is_served(operator_api, engine):
    """docs/api.md: `POST $BASE/bulk/<job id>/advance   # until "finished": true`. The API
    has no such verb: 400 "verb: Input should be 'pause', 'resume' or 'abort'"."""
    verbs = set(re.findall(r"\$BASE/bulk/<job id>/(\w+)", DOCS.read_text()))
    for verb in verbs:
        response = operator_api.post(f"/bulk/{uuid.uuid4()}/{verb}")
        assert response.status_code == 404, (verb, response.content)  # no such job, not verb
