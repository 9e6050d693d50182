"""Cancelling a run whose executor was killed: the cancel does not wait for an answer that
cannot come. Once the owner is dead by the recovery verdict's rule (its lifeline lock gone,
silent three heartbeats) the cancel answers, saying so, and recovery leaves the run
CANCELLED: no step of it runs again, while the dead owner's other runs are recovered."""

from __future__ import annotations

import subprocess
import time

import pytest

import durable
from durable import operations
from durable.core import _serving as serving
from durable.core.conf import settings as durable_settings
from durable.models import Run, RunStatus
from tests.engine.processes import start_worker, steps_recorded, stop, wait_for
from tests.faults.workflows import ledger

WORKFLOWS = "tests.faults.workflows"


@pytest.fixture
def workers():
    """Worker processes started by the test, stopped at its end."""
    started: list[subprocess.Popen] = []
    yield started
    for worker in started:
        stop(worker)


@pytest.fixture
def killed_owner(side_effects, settings, short_lease, workers) -> None:
    """Two runs in flight on a worker process killed with SIGKILL: no goodbye, so they stay
    RUNNING under its id and its heartbeat row stays behind."""
    settings.DURABLE_EXECUTOR = "external"
    for run_id in ("doomed", "sibling"):
        durable.start(ledger, run_id, 40, 0.1, run_id=run_id)
    workers.append(start_worker(DURABLE_MODULES=WORKFLOWS))
    wait_for(lambda: min(map(steps_recorded, ("doomed", "sibling"))) >= 4, 60, "checkpoints")
    workers[0].kill()
    workers[0].wait(10)


def _dead_by_the_verdict() -> bool:
    return not serving.live_executors()


def test_cancel_answers_at_once_when_the_owner_is_known_dead_and_recovery_leaves_it_cancelled(
    killed_owner, side_effects, workers
):
    wait_for(_dead_by_the_verdict, 10, "the killed worker to be dead by the verdict's rule")
    started = time.monotonic()
    result = operations.cancel("doomed")
    answered = time.monotonic() - started
    assert answered < 1, f"the cancel waited {answered:.1f}s for a dead executor's answer"
    why = result.unconfirmed["doomed"]
    assert "died" in why and "stays CANCELLED" in why and "resume" in why, why
    before = (steps_recorded("doomed"), side_effects("doomed"))
    workers.append(start_worker(DURABLE_MODULES=WORKFLOWS))  # its sweep recovers the runs
    wait_for(lambda: Run.objects.get(id="sibling").status == RunStatus.SUCCESS, 60, "the sibling")
    assert Run.objects.get(id="doomed").status == RunStatus.CANCELLED
    assert (steps_recorded("doomed"), side_effects("doomed")) == before, "doomed ran again"
    assert Run.objects.get(id="sibling").recovery_count == 1


def test_cancel_right_after_the_kill_stops_waiting_once_the_death_is_known(killed_owner):
    """The lock went with the process, but the verdict also wants three silent heartbeats:
    the cancel waits that long at most, not the whole confirmation timeout."""
    started = time.monotonic()
    result = operations.cancel("doomed")
    answered = time.monotonic() - started
    silence = serving.silence_seconds()
    timeout = durable_settings.DURABLE_CANCEL_CONFIRM_SECONDS
    assert answered < silence + 1.5 < timeout, f"answered after {answered:.1f}s"
    assert "died" in result.unconfirmed["doomed"]
