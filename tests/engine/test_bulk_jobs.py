"""Bulk jobs are durable workflows of Durable: started with one call, carried out by the
executors batch by batch, each batch once, under the operator's name."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from durable import executors, operations
from durable.errors import InvalidArgumentError, OperationRefused, RequestIdConflictError
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


def test_a_request_id_sent_again_with_another_action_is_refused(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"  # the job waits: only its start is looked at
    origins = failed_runs(3)
    first = operations.start_bulk_job("restart", origins, request_id="click-1")
    with pytest.raises(RequestIdConflictError, match="already started bulk job .* to restart"):
        operations.start_bulk_job("cancel", origins, request_id="click-1")
    assert list(BulkJob.objects.values_list("id", "action")) == [(first.id, "restart")]
    assert operations.start_bulk_job("restart", origins, request_id="click-1").id == first.id


@pytest.mark.slow
def test_a_restart_of_2000_runs_survives_an_executor_restart_and_a_sigkilled_worker(
    transactional_db, settings
):
    """One call; then the in-process executor stops mid-job, a worker process takes over
    and is SIGKILLed, another finishes: every run restarted exactly once."""
    from tests.engine.processes import start_worker, stop
    from tests.engine.processes import wait_for as wait_until

    settings.DURABLE_EXECUTOR = "external"  # the job's run waits in PostgreSQL for executors
    origins = failed_runs(2000)
    job = operations.start_bulk_job("restart", origins, actor="alice", rate=200)
    offset = lambda: BulkJob.objects.get(id=job.id).offset  # noqa: E731
    executors.start_thread_executor()
    first = second = None
    try:
        wait_until(lambda: offset() >= 300, 60, "the first batches")
        executors.shutdown()  # the web process restarts
        at_restart = offset()
        first = start_worker()
        wait_until(lambda: offset() >= at_restart + 400, 60, "the worker to carry on")
        first.kill()  # SIGKILL: its lease is left behind
        first.wait(10)
        at_kill = offset()
        assert at_kill < 2000, "the job finished before the worker was killed"
        second = start_worker()
        job = wait_for(job.id, timeout=120)
    finally:
        logs = (stop(first) if first else "") + (stop(second) if second else "")
    assert (job.state, job.done, job.offset) == ("FINISHED", 2000, 2000), logs
    restarted = derived_per_origin(origins)
    assert len(restarted) == 2000 and set(restarted.values()) == {1}
    assert Run.objects.get(id=job.run_id).recovery_count >= 1


@pytest.mark.slow
def test_a_rate_limit_holds_within_ten_percent(executor):
    origins = failed_runs(40)
    job = wait_for(operations.start_bulk_job("restart", origins, rate=5).id)
    created = sorted(
        Run.objects.filter(forked_from_id__in=origins).values_list("created_at", flat=True)
    )
    spread = (created[-1] - created[0]).total_seconds()
    rate = (len(created) - 1) / spread
    assert job.done == 40 and 4.5 <= rate <= 5.5, f"{rate:.2f} runs/s over {spread:.1f}s"


def test_the_rate_paces_the_runs_acted_on_not_the_ones_skipped(executor):
    """A rate protects what the runs reach; a superseded run that is skipped reaches
    nothing, so 200 of them beside 5 runs restarted do not take 40 s at 5 a second."""
    superseded = failed_runs(200)
    wait_for(operations.start_bulk_job("restart", superseded).id)  # each has a restart now
    fresh = [f"fresh-{index}" for index in range(5)]
    Run.objects.bulk_create(
        Run(id=run_id, workflow=UNREGISTERED, status="ERROR", input={"args": [], "kwargs": {}})
        for run_id in fresh
    )
    started = time.monotonic()
    job = wait_for(operations.start_bulk_job("restart", superseded + fresh, rate=5).id)
    assert (job.done, job.skipped) == (5, 200)
    assert time.monotonic() - started < 10, "the skipped runs were paced at the rate"


@pytest.mark.slow
def test_a_paused_job_does_nothing_until_resumed(executor):
    origins = failed_runs(60)
    job = operations.start_bulk_job("restart", origins, rate=20, actor="alice")
    wait_until_offset(job.id, 10)
    operations.pause_job(job.id, actor="bob", reason="provider wobbling")
    time.sleep(0.5)  # a batch in flight may still land
    paused_at = BulkJob.objects.get(id=job.id).offset
    time.sleep(1.5)
    assert BulkJob.objects.get(id=job.id).offset == paused_at < 60
    assert BulkJob.objects.get(id=job.id).state == "PAUSED"
    operations.resume_job(job.id, actor="bob")
    job = wait_for(job.id)
    assert (job.state, job.done) == ("FINISHED", 60)
    assert set(derived_per_origin(origins).values()) == {1}
    controls = AuditEntry.objects.filter(action__startswith="bulk_job_").order_by("id")
    assert [(e.action, e.actor) for e in controls] == [
        ("bulk_job_start", "alice"),
        ("bulk_job_pause", "bob"),
        ("bulk_job_resume", "bob"),
    ]


def test_an_aborted_job_stops_for_good(executor):
    origins = failed_runs(60)
    job = operations.start_bulk_job("restart", origins, rate=20)
    wait_until_offset(job.id, 10)
    operations.abort_job(job.id, reason="wrong selection")
    job = wait_for(job.id)
    time.sleep(1.0)
    job.refresh_from_db()
    assert job.state == "ABORTED" and job.offset < 60
    assert sum(derived_per_origin(origins).values()) == job.done
    with pytest.raises(OperationRefused, match="aborted"):
        operations.resume_job(job.id)


def test_a_canary_whose_runs_fail_again_stops_the_job_saying_why(executor, side_effects):
    origins = failed_runs(12, workflow="tests.jobs.pay", works=False)
    job = operations.start_bulk_job("restart", origins, canary=3, canary_max_failed=50)
    job = wait_for(job.id)
    assert job.state == "STOPPED" and job.done == 3
    assert "canary failed: 3 of the first 3" in job.stop_reason
    assert sum(derived_per_origin(origins).values()) == 3


def test_a_canary_whose_runs_succeed_lets_the_job_go_on(executor, side_effects):
    origins = failed_runs(12, workflow="tests.jobs.pay", works=True)
    job = wait_for(operations.start_bulk_job("restart", origins, canary=3).id)
    assert (job.state, job.done, job.stop_reason) == ("FINISHED", 12, "")


def wait_until_offset(job_id, offset: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while BulkJob.objects.get(id=job_id).offset < offset:
        assert time.monotonic() < deadline, "the job did not get going"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_concurrency_cap_keeps_at_most_n_of_the_jobs_runs_in_flight(executor):
    origins = failed_runs(10, workflow="tests.jobs.slow", works=0.3)
    job = operations.start_bulk_job("restart", origins, concurrency=2)
    most = 0
    deadline = time.monotonic() + 60
    while BulkJob.objects.get(id=job.id).state == "RUNNING" and time.monotonic() < deadline:
        in_flight = Run.objects.filter(
            forked_from_id__in=origins, status__in=["ENQUEUED", "RUNNING"]
        )
        most = max(most, in_flight.count())
        time.sleep(0.02)
    assert wait_for(job.id).done == 10
    assert 1 <= most <= 2


def test_an_action_that_raises_stops_the_job_saying_why_instead_of_hanging(executor, monkeypatch):
    def refusing(batch, reason, request_id, job):
        raise InvalidArgumentError("queue", "no queue 'gone' is declared")

    monkeypatch.setitem(_jobs.ACTIONS, "restart", refusing)  # a fault injected at the seam
    job = wait_for(operations.start_bulk_job("restart", failed_runs(5)).id)
    assert job.state == "STOPPED" and job.offset == 0
    assert "stopped at run 1 of 5" in job.stop_reason and "no queue 'gone'" in job.stop_reason


def test_a_bulk_hold_holds_the_matching_unfinished_runs_and_a_bulk_release_lets_them_go(
    executor,
):
    now = timezone.now() - timedelta(seconds=10)
    statuses = {"hold-q": "ENQUEUED", "hold-r": "RUNNING", "hold-s": "SUCCESS"}
    Run.objects.bulk_create(
        Run(id=run_id, workflow="tests.jobs.hold_me", status=status, created_at=now, input={})
        for run_id, status in statuses.items()
    )
    hold = operations.start_bulk_job(
        "hold", filter={"workflow": "tests.jobs.hold_me"}, actor="alice", reason="INC-12"
    )
    hold = wait_for(hold.id)
    assert (hold.state, hold.done, hold.total) == ("FINISHED", 2, 3)
    assert hold.refused == {
        "it is SUCCESS; only enqueued or running runs can be held": {"count": 1, "runs": ["hold-s"]}
    }
    held = Run.objects.filter(held_at__isnull=False)
    assert dict(held.values_list("id", "hold_reason")) == {"hold-q": "INC-12", "hold-r": "INC-12"}
    assert {entry.actor for entry in AuditEntry.objects.filter(action="hold")} == {"alice"}

    release = wait_for(operations.start_bulk_job("release", ["hold-q", "hold-r", "hold-s"]).id)
    assert (release.state, release.done) == ("FINISHED", 2)
    assert list(release.refused) == ["it is not held; only a held run can be released"]
    assert not Run.objects.filter(held_at__isnull=False).exists()
