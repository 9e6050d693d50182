"""Bulk fork: many runs forked from their failed step onto the current code, from the runs
list (ticked or all matching) and the API, with the same preview, confirmation, audit and
progress as the other bulk actions. A run with no failed step has nothing to fork from and
is refused, and the preview counts it so."""

from __future__ import annotations

import time

import durable
from dashboard import tokens
from durable.models import AuditEntry, Run, RunStatus
from tests.dashboard.api.conftest import TokenClient
from tests.dashboard.conftest import make_failed_run, make_run
from tests.dashboard.test_bulk import _start, drive
from tests.engine import workflows


def _failed_at_third_step(run_id: str) -> None:
    """A real run of tests.fails_at_third_step whose step 2 failed for good."""
    workflows.FLAKY_FAILURES[run_id] = 1
    handle = durable.start(workflows.fails_at_third_step, run_id, run_id=run_id)
    for _ in range(300):
        if Run.objects.get(id=run_id).status == RunStatus.ERROR:
            return
        time.sleep(0.05)
    raise AssertionError(f"{handle.run_id} never failed")


def test_the_runs_list_offers_fork_and_the_preview_counts_runs_with_a_failed_step(owner_client, db):
    make_failed_run(id="f-1", workflow="shop.order")
    make_failed_run(id="f-2", workflow="shop.order")
    make_run(id="ok-1", workflow="shop.order")  # succeeded: no failed step to fork from
    assert '<option value="fork">Fork</option>' in owner_client.get("/").content.decode()
    text = owner_client.get("/bulk/?action=fork&scope=matching&workflow=shop.order").content
    text = text.decode()
    assert "<strong>2</strong> runs will be forked" in text
    assert "<strong>1</strong> will be refused" in text
    assert "Forking starts a <strong>new run</strong> of each run" in text
    assert "Fork 2 runs</button>" in text


def test_a_bulk_fork_forks_each_run_from_its_failed_step_audited_with_progress(
    owner_client, engine, side_effects
):
    for run_id in ("bf-1", "bf-2"):
        _failed_at_third_step(run_id)
    text = drive(owner_client, _start(
        owner_client, action="fork", scope="selected", run_ids=["bf-1", "bf-2"],
        as_of="2030-01-01T00:00:00+00:00", total=2, reason="INC-9 fixed the third step",
    ))  # fmt: skip
    assert "Done: fork" in text
    for origin in ("bf-1", "bf-2"):
        forked = Run.objects.get(forked_from_id=origin)
        assert durable.get(forked.id).result(timeout=60) == "done"
        # steps 0 and 1 are reused, not run again (the fork's steps note the origin's id)
        assert side_effects(origin) == {"first": 1, "second": 1, "third": 1}
    entry = AuditEntry.objects.get(action="fork")
    assert entry.actor == "owner" and entry.detail["reason"] == "INC-9 fixed the third step"


def test_the_api_previews_and_starts_a_bulk_fork(owner, engine):
    api = TokenClient(tokens.create(owner, "ci-bot", "operate").secret)
    _failed_at_third_step("api-f-1")
    make_run(id="api-ok-1")
    target = {"action": "fork", "scope": "selected", "run_ids": ["api-f-1", "api-ok-1"]}
    preview = api.post("/bulk/preview", target).json()
    assert (preview["total"], preview["eligible"], preview["refused"]) == (2, 1, 1)
    job = api.post("/bulk", {**target, "reason": "fixed", "token": preview["token"],
                             "as_of": preview["as_of"], "total": 2})  # fmt: skip
    assert job.status_code == 200, job.content
    status = job.json()
    for _ in range(300):
        if status["finished"]:
            break
        time.sleep(0.1)
        status = api.get(f"/bulk/{status['id']}").json()
    assert status["action"] == "fork" and status["done"] == 1
    assert "no failed step" in str(status["refused"])
    assert Run.objects.filter(forked_from_id="api-f-1").exists()
