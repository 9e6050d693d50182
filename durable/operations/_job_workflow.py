"""The internal workflow that carries out a bulk job: one transaction step per batch
(`_jobs.next_batch`), durable waits between them; executors run it like any other."""

from __future__ import annotations

from typing import Any

from durable.core._decorators import step, transaction, workflow
from durable.operations import _jobs as jobs
from durable.primitives._messaging import recv
from durable.primitives._sleep import sleep


@transaction(name="durable.bulk_job.batch")
def job_batch(job_id: str) -> dict[str, Any]:
    return jobs.next_batch(job_id)


@step(name="durable.bulk_job.confirm_cancels")
def confirm_cancels(job_id: str, run_ids: list[str]) -> int:
    return jobs.confirm_cancels(job_id, run_ids)


@workflow(name=jobs.WORKFLOW, version="1")
def bulk_job(job_id: str) -> dict[str, Any]:
    """Batch after batch until the job is over; a paused job listens for its resume."""
    while True:
        outcome = job_batch(job_id)
        if outcome.get("cancelled"):  # the batch has committed: now its stops can be confirmed
            confirm_cancels(job_id, outcome["cancelled"])
        if outcome["over"]:
            return outcome
        if outcome["listen"]:
            recv(jobs.CONTROL_TOPIC, timeout=outcome["wait"])
        elif outcome["wait"] > 0:
            sleep(outcome["wait"])
