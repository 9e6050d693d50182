"""A bulk action over "every run matching this filter" never reaches the runs of other bulk
jobs: cancelling a job's own run leaves the job RUNNING for ever with runs left (the very
failure issue 25 set out to end). `durable.operations` filters them out of a filter's
matches (`_jobs.selected`); the dashboard's "all matching" must too."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from durable import executors, operations
from durable.models import BulkJob, Run
from tests.dashboard.test_bulk import _start, drive


def _failed(count: int) -> list[str]:
    ago = timezone.now() - timedelta(seconds=10)
    runs = [
        Run(id=f"f-{n:03}", workflow="tests.bulk_spares_jobs.nobody_runs_this", status="ERROR",
            created_at=ago, input={"args": [], "kwargs": {}})
        for n in range(count)
    ]  # fmt: skip
    Run.objects.bulk_create(runs)
    return [run.id for run in runs]


def _a_slow_job_running() -> BulkJob:
    """A restart of 40 runs at 2 a second, its own run RUNNING."""
    executors.start_thread_executor()
    slow = operations.start_bulk_job("restart", _failed(40), rate=2, reason="gently")
    deadline = time.monotonic() + 20
    while Run.objects.get(id=slow.run_id).status != "RUNNING":
        assert time.monotonic() < deadline, "the slow job never started"
        time.sleep(0.1)
    return slow


def test_cancel_all_running_from_the_dashboard_does_not_cancel_a_bulk_job(owner_client, engine):
    slow = _a_slow_job_running()
    html = _start(owner_client, action="cancel", scope="matching", status="RUNNING",
                  as_of=timezone.now().isoformat(), total=1, reason="stop all")  # fmt: skip
    drive(owner_client, html)
    job = BulkJob.objects.get(id=slow.id)
    run = Run.objects.get(id=slow.run_id)
    assert run.status != "CANCELLED"
    assert not (job.state == "RUNNING" and run.status in ("CANCELLED", "ERROR", "SUCCESS"))


def test_cancelling_a_bulk_jobs_own_run_aborts_the_job_with_why(engine):
    """Named on its own (`durable cancel durable-job-…`), the run is cancelled, and its job
    ends with it instead of showing "running" for ever."""
    slow = _a_slow_job_running()
    operations.cancel(slow.run_id, reason="wrong selection")
    job = BulkJob.objects.get(id=slow.id)
    assert (job.state, job.finished_at is not None) == ("ABORTED", True)
    assert "wrong selection" in job.stop_reason
