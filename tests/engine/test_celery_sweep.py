"""The sweep dispatches runs that have no message: lost ones, woken sleeps, recovered ones."""

from __future__ import annotations

import pytest

import durable
from durable.models import Run, RunStatus
from tests.engine import celery_processes
from tests.engine.celery_workflows import napper, ticks
from tests.engine.processes import steps_recorded, wait_for

pytestmark = pytest.mark.slow
celery_cluster = celery_processes.celery_cluster


def finished(prefix: str) -> int:
    return Run.objects.filter(id__startswith=prefix, status=RunStatus.SUCCESS).count()


def test_runs_whose_message_was_lost_are_dispatched_again(celery_cluster, settings):
    settings.DURABLE_EXECUTOR = "external"  # as if the broker lost every message
    for index in range(10):
        durable.start(ticks, f"lost-{index}", 1, 0, run_id=f"lost-{index}")
    celery_cluster.start(1, DURABLE_REDISPATCH_SECONDS="1")
    wait_for(lambda: finished("lost-") == 10, 30, "the runs without a message to finish")


def test_a_long_durable_sleep_frees_the_worker_and_the_sweep_wakes_the_run(
    celery_cluster, side_effects
):
    celery_cluster.start(1, DURABLE_SLEEP_INLINE_SECONDS="0.1")
    durable.start(napper, "nap-1", 1.0, run_id="nap-1")
    wait_for(lambda: Run.objects.get(id="nap-1").status == RunStatus.ENQUEUED, 30, "suspension")
    wait_for(lambda: finished("nap-1") == 1, 30, "the run to wake and finish")
    run = Run.objects.get(id="nap-1")
    assert [step.kind for step in run.steps.order_by("position")] == ["step", "sleep", "step"]
    assert side_effects("nap-1") == {"before": 1, "after": 1}


def test_manage_py_worker_and_sweeper_recover_a_killed_workers_run(celery_cluster, side_effects):
    """The production layout: `durable worker --celery` processes and `durable sweeper`."""
    no_sweep = {"DURABLE_WORKER_SWEEPS": "0"}
    victim = celery_cluster.spawn(["manage.py", "durable", "worker", "--celery"], **no_sweep)
    celery_cluster.wait_ready([victim])
    durable.start(ticks, "swept-1", 30, 0.05, run_id="swept-1")
    wait_for(lambda: steps_recorded("swept-1") >= 6, 30, "the run to be underway")
    celery_cluster.kill(victim)
    survivor = celery_cluster.spawn(["manage.py", "durable", "worker", "--celery"], **no_sweep)
    celery_cluster.spawn(["manage.py", "durable", "sweeper", "--every", "0.3"])
    celery_cluster.wait_ready([survivor])
    wait_for(lambda: finished("swept-1") == 1, 60, "the sweeper to recover the run")
    run = Run.objects.get(id="swept-1")
    assert run.recovery_count == 1
    assert all(side_effects("swept-1")[f"txn-{i}"] == 1 for i in range(30))
