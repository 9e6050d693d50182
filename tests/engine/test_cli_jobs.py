"""`manage.py durable bulk|jobs|job` in a subprocess: start a bulk job, watch it, steer it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from durable.models import AuditEntry, BulkJob, Run
from tests.engine.processes import PROJECT_DIR, database_url_for_tests, start_worker, stop
from tests.engine.test_bulk_jobs import UNREGISTERED, derived_per_origin, failed_runs, wait_for


def durable_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url_for_tests(), **(env or {})}
    return subprocess.run(
        [sys.executable, "manage.py", "durable", *args],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.slow
def test_the_cli_starts_a_job_a_worker_carries_out_and_shows_it(transactional_db):
    origins = failed_runs(30)
    started = durable_cli("bulk", "restart", "--workflow", UNREGISTERED, "--status", "ERROR",
                          "--reason", "INC-5", "--actor", "carol", "--rate", "20")  # fmt: skip
    assert started.returncode == 0, started.stderr
    job = BulkJob.objects.get()
    assert str(job.id) in started.stdout and job.total == 30
    worker = start_worker()
    try:
        paused = durable_cli("job", str(job.id), "--pause", "--reason", "look first")
        assert paused.returncode == 0 and "state:" in paused.stdout, paused.stderr
        assert "paused" in paused.stdout
        time.sleep(1.0)
        resumed = durable_cli("job", str(job.id), "--resume")
        assert resumed.returncode == 0, resumed.stderr
        job = wait_for(job.id)
    finally:
        stop(worker)
    assert (job.state, job.done) == ("FINISHED", 30)
    assert set(derived_per_origin(origins).values()) == {1}
    listed = durable_cli("jobs")
    assert str(job.id) in listed.stdout and "finished" in listed.stdout and "INC-5" in listed.stdout
    shown = durable_cli("job", str(job.id))
    assert "done:            30" in shown.stdout and "carol" in shown.stdout
    assert {e.actor for e in AuditEntry.objects.filter(action="restart")} == {"carol"}
    assert Run.objects.filter(forked_from_id__in=origins).count() == 30


def test_an_unknown_job_is_a_clear_error(transactional_db):
    result = durable_cli("job", "no-such-job")
    assert result.returncode != 0 and "durable jobs" in result.stderr


@pytest.mark.slow
def test_a_dry_run_from_the_cli_names_the_diverging_run_and_starts_nothing(side_effects):
    import durable
    from durable.models import Step
    from tests.dashboard.conftest import wait_until_finished
    from tests.engine.job_workflows import pay

    durable.start(pay, "pay-cli", False, run_id="pay-cli")
    assert wait_until_finished("pay-cli") == "ERROR"
    Step.objects.filter(run_id="pay-cli", position=0).update(name="shop.old_charge_step")
    env = {"DURABLE_MODULES": "tests.engine.job_workflows"}
    result = durable_cli("bulk", "resume", "pay-cli", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "1 would diverge" in result.stdout and "shop.old_charge_step" in result.stdout
    assert not BulkJob.objects.exists()
