"""A drained Celery worker stops consuming the durable queue, so the broker hands run
messages to the other workers instead of to it (to be refused and sent again by the sweep).

Only where the process that consumes also executes the tasks (threads, solo, gevent and
eventlet pools). A prefork child is an executor of its own, but the consumer is its parent's
and serves its siblings too: a drained child refuses its messages (`CeleryWorker.execute`,
which also refuses a message prefetched before the consumer stopped).

The consumer is changed in its own thread (`consumer.call_soon`), as Celery's
`cancel_consumer` / `add_consumer` remote-control commands do, but without the round trip
through the broker and whether or not remote control is enabled. Each callback reads the
drain's current state, so callbacks run out of order (the hub keeps a set) still end right,
and the worker's heartbeat calls it again (a failed change is retried); only a queue this
stopped is consumed again, never one the worker was not started with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("durable")


class QueueConsumption:
    """Keeps a worker's consumption of `queue` in line with its operator drain."""

    def __init__(self, queue: str, drained: Callable[[], bool], executor_id: str) -> None:
        self.queue = queue
        self.executor_id = executor_id
        self._drained = drained
        self._consumer: Any = None  # celery.worker.consumer.Consumer, set by attach
        self._stopped = False  # consumed before the drain, cancelled by it

    def attach(self, consumer: Any) -> None:
        """Celery's consumer (worker_ready's sender), in the process that runs it."""
        if consumer is None or _forks_pool_processes(consumer):
            return
        self._consumer = consumer
        self.follow()

    def follow(self, *_: object) -> None:
        """The drain changed (or may have): bring consumption in line, in the consumer's
        thread. Safe from any thread."""
        if self._consumer is not None:
            self._consumer.call_soon(self._reconcile)

    def _reconcile(self) -> None:
        try:
            if self._drained():
                self._stop_consuming()
            elif self._stopped:
                self._consumer.add_task_queue(self.queue)
                self._stopped = False
                logger.info("celery executor %s consumes %s again", self.executor_id, self.queue)
        except Exception:  # the refusal in CeleryWorker.execute still holds
            logger.exception("celery executor %s could not follow its drain on queue %s",
                             self.executor_id, self.queue)  # fmt: skip

    def _stop_consuming(self) -> None:
        tasks = self._consumer.task_consumer
        if self._stopped or tasks is None or not tasks.consuming_from(self.queue):
            return
        self._consumer.cancel_task_queue(self.queue)
        self._stopped = True
        logger.info("celery executor %s drained: no longer consumes %s", self.executor_id,
                    self.queue)  # fmt: skip


def _forks_pool_processes(consumer: Any) -> bool:
    """Whether tasks run in child processes (prefork), not in the consumer's process."""
    from celery.concurrency.prefork import TaskPool

    return isinstance(consumer.pool, TaskPool)
