"""On Celery: a drained worker stops consuming the durable queue, so run messages go to
the other worker (none reach the drained one to be refused); undrained, it consumes the
queue and takes runs again."""

from __future__ import annotations

import time

import pytest
from celery import current_app

import durable
from durable import operations
from durable.executors.celery import TASK_NAME
from durable.models import Executor, Run, RunStatus
from tests.engine import celery_processes
from tests.engine.celery_workflows import ticks
from tests.engine.processes import wait_for

pytestmark = pytest.mark.slow
celery_cluster = celery_processes.celery_cluster


def _finished(prefix: str, count: int) -> bool:
    done = Run.objects.filter(id__startswith=prefix, status=RunStatus.SUCCESS).count()
    return done == count


def _node_of(process) -> str:
    """The Celery node name of a worker process (Celery's remote control, over the broker)."""
    stats = current_app.control.inspect(timeout=2).stats() or {}
    return next(node for node, stat in stats.items() if stat["pid"] == process.pid)


def _consumes(node: str, queue: str) -> bool:
    replies = current_app.control.inspect([node], timeout=2).active_queues() or {}
    return queue in {declared["name"] for declared in replies[node]}


def _tasks_received(node: str) -> int:
    """`durable.execute_run` messages the worker took (executed or refused)."""
    stats = current_app.control.inspect([node], timeout=2).stats() or {}
    return stats[node]["total"].get(TASK_NAME, 0)


@pytest.mark.parametrize("celery_cluster", ["redis", "rabbitmq"], indirect=True)
def test_a_drained_celery_worker_stops_consuming_and_the_other_worker_takes_the_runs(
    celery_cluster,
):
    drained_process, other_process = celery_cluster.start(2, threads=2)
    drained = Executor.objects.get(pid=drained_process.pid).id
    other = Executor.objects.get(pid=other_process.pid).id
    node, queue = _node_of(drained_process), celery_cluster.queue
    assert _consumes(node, queue)

    operations.drain_executor(drained, actor="ops")
    wait_for(lambda: not _consumes(node, queue), 10, "the drained worker to stop consuming")
    received = _tasks_received(node)
    for index in range(12):
        durable.start(ticks, f"cdrain-{index}", 1, 0, run_id=f"cdrain-{index}")
    wait_for(lambda: _finished("cdrain-", 12), 60, "12 runs to finish")
    executed_by = set(
        Run.objects.filter(id__startswith="cdrain-").values_list("executor_id", flat=True)
    )
    assert executed_by == {other}
    assert _tasks_received(node) == received  # no message reached it, none was bounced

    operations.undrain_executor(drained)
    wait_for(lambda: _consumes(node, queue), 10, "the undrained worker to consume again")
    celery_cluster.kill(other_process)
    durable.start(ticks, "cdrain-back", 1, 0, run_id="cdrain-back")
    wait_for(lambda: _finished("cdrain-back", 1), 60, "the undrained worker to take a run")
    assert Run.objects.get(id="cdrain-back").executor_id == drained
    assert _tasks_received(node) > received


def test_drain_then_undrain_at_once_leaves_the_worker_consuming(celery_cluster):
    (process,) = celery_cluster.start(1, threads=2)
    executor = Executor.objects.get(pid=process.pid).id
    node, queue = _node_of(process), celery_cluster.queue
    operations.drain_executor(executor)
    operations.undrain_executor(executor)
    time.sleep(1.5)  # past a heartbeat, which reads the row back
    assert _consumes(node, queue)
    durable.start(ticks, "cdrain-flip", 1, 0, run_id="cdrain-flip")
    wait_for(lambda: _finished("cdrain-flip", 1), 60, "the worker to take a run")
    assert Run.objects.get(id="cdrain-flip").executor_id == executor


def test_on_prefork_a_drained_child_refuses_and_its_node_keeps_consuming(celery_cluster):
    """The consumer is the parent's and serves every child: neither draining a child nor
    the parent (which executes no runs) stops it."""
    queue = celery_cluster.queue
    parent = celery_cluster.spawn(
        ["-m", "celery", "-A", "config", "worker", "--pool", "prefork", "--concurrency", "2",
         "--queues", queue, "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--loglevel", "WARNING", "--hostname", f"{queue}-prefork@%h"]
    )  # fmt: skip
    celery_cluster.wait_ready([parent])
    children = Executor.objects.filter(kind="celery").exclude(pid=parent.pid)
    wait_for(lambda: children.count() == 2, 60, "two pool processes")
    drained, sibling = children.order_by("id").values_list("id", flat=True)
    operations.drain_executor(Executor.objects.get(pid=parent.pid).id)
    operations.drain_executor(drained)
    time.sleep(1.5)  # the child has heard, by notification or heartbeat
    node = _node_of(parent)
    assert _consumes(node, queue)
    for index in range(6):
        durable.start(ticks, f"cfork-{index}", 1, 0, run_id=f"cfork-{index}")
    wait_for(lambda: _finished("cfork-", 6), 60, "6 runs to finish")
    executed_by = Run.objects.filter(id__startswith="cfork-").values_list("executor_id", flat=True)
    assert set(executed_by) == {sibling}
    assert _consumes(node, queue)
