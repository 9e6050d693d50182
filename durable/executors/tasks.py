"""Durable's Celery tasks; the Celery app loads them in every worker with
`app.autodiscover_tasks(["durable.executors"])` (see config/celery.py).

`durable.execute_run` acknowledges late and is rejected (re-queued) when its worker
process dies, so a lost worker's messages come back; the run's lease, not the message,
decides who executes it.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import (
    worker_process_init,
    worker_ready,
    worker_shutdown,
    worker_shutting_down,
)
from django.db import InterfaceError, OperationalError, connection

from durable.executors import celery as celery_executor


@shared_task(
    bind=True,
    name=celery_executor.TASK_NAME,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=5,
)
def execute_run(self, run_id: str) -> bool:
    """Claim and execute one run; False when another worker has it or its queue is full.

    Worker threads keep their database connection across tasks (CELERY_DB_REUSE_MAX), so a
    broken one is dropped here and the message retried, rather than failing every task.
    """
    try:
        return celery_executor.current_worker().execute(run_id)
    except (InterfaceError, OperationalError) as exc:
        connection.close()
        raise self.retry(exc=exc, countdown=1) from exc


@shared_task(name="durable.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """For celery beat, where workers run with DURABLE_WORKER_SWEEPS=0."""
    from durable.executors import _sweeper as sweeper

    return sweeper.sweep_once(celery_executor.CeleryDispatcher())


@worker_ready.connect
def _start_on_worker_ready(sender=None, **_) -> None:
    """Start heartbeats and the sweep before the first message arrives; `sender` is
    Celery's consumer, which stops consuming while the worker is drained."""
    celery_executor.current_worker().attach_consumer(sender)


@worker_process_init.connect
def _start_in_pool_process(**_) -> None:
    celery_executor.current_worker().pool_child = True


@worker_shutting_down.connect
def _drain_on_warm_shutdown(**_) -> None:
    """Release runs in flight at their next step (or after the grace period) on SIGTERM."""
    celery_executor.drain_worker()


@worker_shutdown.connect
def _stop_on_worker_shutdown(**_) -> None:
    celery_executor.stop_worker()
