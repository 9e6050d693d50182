"""A delayed run's timeout counts from its due time, so its deadline lies delay + timeout
after its creation; a resume, restart or fork gives it its timeout again, never the delay
on top (the run keeps its own timeout in `timeout_seconds`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

import durable
from durable import operations
from durable.core import _clock as clock
from durable.models import Run, RunStatus
from tests.engine.test_lineage import GATE, PARENT_TIMEOUT, _child_of, timed_parent
from tests.engine.workflows import ledger


@pytest.fixture
def external(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"


def _failed_after_its_delay(run_id: str, delay: float, timeout: float) -> None:
    """A delayed run that came due, started and failed."""
    durable.start(ledger, run_id, ["a"], run_id=run_id, delay=delay, timeout=timeout)
    Run.objects.filter(id=run_id).update(
        status=RunStatus.ERROR, started_at=clock.now(), finished_at=clock.now()
    )


def _time_left(run_id: str) -> timedelta:
    return Run.objects.get(id=run_id).deadline_at - clock.now()


def test_a_delayed_run_keeps_its_own_timeout(external):
    durable.start(ledger, "t-kept", [], run_id="t-kept", delay=3600, timeout=60)
    assert Run.objects.get(id="t-kept").timeout_seconds == 60


def test_a_run_without_a_timeout_keeps_none(external):
    durable.start(ledger, "t-none", [], run_id="t-none", delay=3600)
    run = Run.objects.get(id="t-none")
    assert run.timeout_seconds is None and run.deadline_at is None


def test_a_child_keeps_the_time_its_parents_deadline_left_it(side_effects):
    GATE.clear()
    durable.start(timed_parent, "t-parent", run_id="t-parent")  # a 2 s timeout
    child = _child_of("t-parent")
    GATE.set()
    assert child.deadline_at == Run.objects.get(id="t-parent").deadline_at
    assert 0 < child.timeout_seconds <= PARENT_TIMEOUT


def test_resuming_a_started_delayed_run_gives_it_its_timeout_not_the_delay(external):
    _failed_after_its_delay("t-resume", delay=3600, timeout=60)
    operations.resume("t-resume")
    assert timedelta(seconds=55) < _time_left("t-resume") <= timedelta(seconds=60)


def test_restarting_a_delayed_run_gives_the_new_run_its_timeout(external):
    _failed_after_its_delay("t-restart", delay=3600, timeout=60)
    new_id = operations.restart("t-restart")
    assert timedelta(seconds=55) < _time_left(new_id) <= timedelta(seconds=60)
    assert Run.objects.get(id=new_id).timeout_seconds == 60


def test_forking_a_delayed_run_gives_the_fork_its_timeout(external):
    _failed_after_its_delay("t-fork", delay=3600, timeout=60)
    new_id = operations.fork("t-fork", from_step=0)
    assert timedelta(seconds=55) < _time_left(new_id) <= timedelta(seconds=60)


def test_a_fork_given_a_timeout_keeps_that_one(external):
    _failed_after_its_delay("t-chosen", delay=3600, timeout=60)
    new_id = operations.fork("t-chosen", from_step=0, timeout=120)
    run = Run.objects.get(id=new_id)
    assert run.timeout_seconds == 120
    operations.cancel(new_id)
    operations.resume(new_id)
    assert timedelta(seconds=115) < _time_left(new_id) <= timedelta(seconds=120)


def test_a_run_written_before_timeouts_were_kept_resumes_with_its_old_span(external):
    _failed_after_its_delay("t-old", delay=0, timeout=90)
    Run.objects.filter(id="t-old").update(timeout_seconds=None)  # as rows written before
    operations.resume("t-old")
    assert timedelta(seconds=85) < _time_left("t-old") <= timedelta(seconds=90)
