"""`/metrics` tells bulk jobs by state and the runs they have left, and the held runs."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from durable.models import BulkJob, Run
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


def test_held_runs_are_counted_by_workflow_with_the_rare_workflows_folded(db, client, settings):
    settings.DURABLE_METRICS_MAX_LABEL_VALUES = 2
    now = timezone.now()
    runs = [("pay", "ENQUEUED", now), ("pay", "ENQUEUED", now), ("pay", "RUNNING", None),
            ("mail", "ENQUEUED", now), ("mail", "ENQUEUED", None), ("mail", "ENQUEUED", None),
            ("rare", "ENQUEUED", now)]  # fmt: skip
    Run.objects.bulk_create(
        Run(id=f"h-{index}", workflow=workflow, status=status, held_at=held, input={})
        for index, (workflow, status, held) in enumerate(runs)
    )
    held_by_workflow = {
        dict(k)["workflow"]: v for k, v in scrape(client)["durable_runs_held"].items()
    }
    assert held_by_workflow == {"pay": 2, "mail": 1, "other": 1}
