"""Bulk jobs are durable workflows of Durable: started with one call, carried out by the
executors batch by batch, each batch once, under the operator's name."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from durable import executors, operations
from durable.models import AuditEntry, BulkJob, Run
from durable.operations import _jobs
from tests.engine import job_workflows  # noqa: F401  (registers tests.jobs.*)

UNREGISTERED = "tests.jobs.nobody_runs_this"  # derived runs stay ENQUEUED: cheap to count


def failed_runs(count: int, workflow: str = UNREGISTERED, works: bool = True) -> list[str]:
    now = timezone.now() - timedelta(seconds=10)
    runs = [
        Run(id=f"failed-{index:05d}", workflow=workflow, status="ERROR", created_at=now,
            input={"args": [f"failed-{index:05d}", works], "kwargs": {}})
        for index in range(count)
    ]  # fmt: skip
    Run.objects.bulk_create(runs)
    return [run.id for run in runs]


def wait_for(job_id, states=("FINISHED", "ABORTED", "STOPPED"), timeout: float = 60) -> BulkJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = BulkJob.objects.get(id=job_id)
        if job.state in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job still {job.state} after {timeout}s: {job.offset}/{job.total}")


def derived_per_origin(origins: list[str]) -> Counter:
    return Counter(
        Run.objects.filter(forked_from_id__in=origins).values_list("forked_from_id", flat=True)
    )


@pytest.fixture
def executor(transactional_db):
    executors.start_thread_executor()
    yield
    executors.shutdown()


def test_a_bulk_restart_started_with_one_call_finishes_on_the_executors(executor):
    origins = failed_runs(450)
    job = operations.start_bulk_job("restart", origins, actor="alice", reason="INC-9 fixed")
    job = wait_for(job.id)
    assert (job.state, job.done, job.offset, job.total) == ("FINISHED", 450, 450, 450)
    assert set(derived_per_origin(origins).values()) == {1}
    assert len(derived_per_origin(origins)) == 450
    batches = AuditEntry.objects.filter(action="restart")
    assert {entry.actor for entry in batches} == {"alice"}
    assert {entry.detail["reason"] for entry in batches} == {"INC-9 fixed"}
    assert Run.objects.get(id=job.run_id).workflow == _jobs.WORKFLOW


def test_the_same_request_id_starts_one_job(executor):
    origins = failed_runs(3)
    first = operations.start_bulk_job("restart", origins, request_id="click-1")
    again = operations.start_bulk_job("restart", origins, request_id="click-1")
    assert first.id == again.id
    wait_for(first.id)
    assert set(derived_per_origin(origins).values()) == {1}
