"""On Celery: a drained worker refuses its run messages, so the runs go to the other
worker; undrained, it takes runs again."""

from __future__ import annotations

import pytest

import durable
from durable import operations
from durable.models import Executor, Run, RunStatus
from tests.engine import celery_processes
from tests.engine.celery_workflows import ticks
from tests.engine.processes import wait_for

pytestmark = pytest.mark.slow
celery_cluster = celery_processes.celery_cluster


def _finished(prefix: str, count: int) -> bool:
    done = Run.objects.filter(id__startswith=prefix, status=RunStatus.SUCCESS).count()
    return done == count


def test_a_drained_celery_worker_leaves_its_runs_to_the_other_worker(celery_cluster):
    drained_process, other_process = celery_cluster.start(2, threads=2)
    drained = Executor.objects.get(pid=drained_process.pid).id
    other = Executor.objects.get(pid=other_process.pid).id
    operations.drain_executor(drained, actor="ops")
    for index in range(12):
        durable.start(ticks, f"cdrain-{index}", 1, 0, run_id=f"cdrain-{index}")
    wait_for(lambda: _finished("cdrain-", 12), 60, "12 runs to finish")
    executed_by = set(
        Run.objects.filter(id__startswith="cdrain-").values_list("executor_id", flat=True)
    )
    assert executed_by == {other}

    operations.undrain_executor(drained)
    celery_cluster.kill(other_process)
    durable.start(ticks, "cdrain-back", 1, 0, run_id="cdrain-back")
    wait_for(lambda: _finished("cdrain-back", 1), 60, "the undrained worker to take a run")
    assert Run.objects.get(id="cdrain-back").executor_id == drained
