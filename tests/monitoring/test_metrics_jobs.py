"""`/metrics` tells bulk jobs by state and the runs they have left."""

from __future__ import annotations

import uuid

import pytest

from durable.models import BulkJob
from tests.monitoring.test_metrics import scrape


@pytest.fixture(autouse=True)
def _development(settings):
    settings.DEBUG = True


def job(state: str, total: int, offset: int) -> None:
    job_id = uuid.uuid4()
    BulkJob.objects.create(id=job_id, run_id=f"durable-job-{job_id}", actor="alice",
                           action="restart", state=state, total=total, offset=offset)  # fmt: skip


def test_jobs_by_state_and_runs_left_are_scraped(client, db):
    job("RUNNING", 100, 40)
    job("PAUSED", 10, 5)
    job("STOPPED", 50, 3)
    samples = scrape(client)
    by_state = {dict(k)["state"]: v for k, v in samples["durable_bulk_jobs"].items()}
    assert by_state == {"RUNNING": 1, "PAUSED": 1, "STOPPED": 1, "FINISHED": 0, "ABORTED": 0}
    assert samples["durable_bulk_job_runs_left"][()] == 65
