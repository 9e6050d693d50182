"""Celery execution: web processes dispatch run ids, Celery workers claim and execute runs.

A message names a run; the `durable.execute_run` task claims the run's lease and executes
it, acknowledging the message only afterwards (late acks). The lease, not the broker,
decides who executes: a redelivered or duplicate message finds the run RUNNING or finished
and does nothing. Each worker process keeps one maintenance thread that renews the leases
of its runs in flight (telling a run it was cancelled or taken over), announces itself, and
runs the sweep (`durable.executors._sweeper`) that recovers runs of dead workers and
re-dispatches runs whose message was lost. Its lifeline (`durable.executors._lifeline`)
says it lives.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from celery import current_app
from django.db import connection
from kombu.exceptions import ChannelError

from durable import queues
from durable.core import _registry as registry
from durable.core import _runtime as runtime
from durable.core import store
from durable.core._identity import new_executor_id
from durable.core.conf import settings
from durable.executors import _recovery as recovery
from durable.executors import _sweeper as sweeper
from durable.executors import liveness
from durable.executors._lifeline import Lifeline
from durable.executors._stacks import StackAnswerer
from durable.executors.cancellations import CancelListener, RecentIds
from durable.executors.celery_consuming import QueueConsumption
from durable.executors.duties import run_isolated
from durable.executors.inflight import OneThreadPerRun
from durable.executors.operator_drain import OperatorDrain

logger = logging.getLogger("durable")

TASK_NAME = "durable.execute_run"


class CeleryDispatcher:
    """Sends one `durable.execute_run` message per dispatched run (the web side)."""

    executor_id = "celery-dispatcher"

    def __init__(self, app=None) -> None:
        self.app = app or current_app

    @property
    def celery_queue(self) -> str:
        return settings.DURABLE_CELERY_QUEUE

    def dispatch(self, run_id: str) -> None:
        """Never raises: a run whose message is lost is re-dispatched by the sweep."""
        try:
            self.app.send_task(TASK_NAME, args=[run_id], queue=self.celery_queue)
        except Exception as exc:  # broker down: the run waits, ENQUEUED, for the sweep
            logger.warning(
                "could not dispatch run %s (%s); the sweep will dispatch it", run_id, exc
            )
            try:  # marked, the next sweep after the broker is back sends it, queue idle or not
                store.mark_undispatched(run_id)
            except Exception as mark_error:
                logger.warning("could not mark run %s undispatched (%s)", run_id, mark_error)

    def broker_idle(self) -> bool:
        """Whether the Celery queue holds no ready messages (so ENQUEUED runs have none)."""
        with self.app.connection_for_write() as conn:
            try:
                _, ready, _ = conn.default_channel.queue_declare(
                    queue=self.celery_queue, passive=True
                )
            except ChannelError:  # no such queue yet: nothing waits in it
                return True
        return ready == 0

    def shutdown(self, wait: bool = True) -> None:
        """Nothing runs here; the broker connection pool belongs to the Celery app."""


class CeleryWorker(OneThreadPerRun):
    """The durable side of one Celery worker process: identity, leases, sweep."""

    kind = "celery"

    def __init__(self, dispatcher: CeleryDispatcher | None = None) -> None:
        registry.autodiscover()
        self.executor_id = new_executor_id(self.kind)
        self.workflows = registry.runnable_keys()  # "name@version": what this code can replay
        self.lease = settings.DURABLE_LEASE_SECONDS
        self.dispatcher = dispatcher or CeleryDispatcher()
        self.pid = os.getpid()
        self._in_flight: dict[str, threading.Event] = {}
        self._again: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._draining = threading.Event()  # warm shutdown: release runs at their next step
        self._running_on: dict[str, threading.Thread] = {}
        self._hung_runs: dict[str, threading.Thread] = {}
        self._early_cancels, self._ended_here = RecentIds(), RecentIds()
        self._released_dead = False
        self._thread = threading.Thread(
            target=self._maintain, name="durable-celery-maintenance", daemon=True
        )
        self._consumption = QueueConsumption(
            settings.DURABLE_CELERY_QUEUE, lambda: self._operator_drain.is_set(), self.executor_id
        )
        self._operator_drain = OperatorDrain(self.executor_id, self._consumption.follow)
        self.pool_child = False  # a prefork child (the consumer is its parent's)
        self._lifeline = Lifeline(
            self.executor_id,
            settings.DURABLE_HEARTBEAT_SECONDS,
            StackAnswerer(self.executor_id, self._stack_threads),
        )
        self._cancels = CancelListener(
            self.executor_id, self._heard_cancel, self._operator_drain.heard
        )

    def start(self) -> CeleryWorker:
        run_isolated("storing queue declarations", queues.store_declared)
        self._lifeline.start()  # before the first claim
        self._thread.start()
        self._cancels.start()
        logger.info(
            "celery executor %s ready; workflows: %s",
            self.executor_id,
            ", ".join(self.workflows) or "none — set DURABLE_MODULES",
        )
        return self

    def attach_consumer(self, consumer) -> None:
        """Celery's consumer in this process: drained, the worker stops consuming runs."""
        self._consumption.attach(consumer)

    def execute(self, run_id: str) -> bool:
        """Claim the run (or, for a limited queue, its head) and execute it to its end."""
        if self._draining.is_set() or self._operator_drain.is_set():
            # shutting down, or drained (a message prefetched before the consumer stopped,
            # or a prefork child): for another worker
            store.mark_undispatched(run_id)
            if self.pool_child:
                self._hold_while_drained()
            return False
        if not self._lifeline.holds():  # its runs would be judged dead: for another worker
            store.mark_undispatched(run_id)
            return False
        return self._claim_and_execute(run_id, self.workflows)

    def _hold_while_drained(self) -> None:
        """A drained prefork child keeps its pool slot busy until the sweep has sent the
        refused run again: Celery hands messages to idle children only, so the node gives
        it to a sibling, where an idle refuser would take it back at once, again and again."""
        deadline = time.monotonic() + min(2 * settings.DURABLE_SWEEP_SECONDS, 10.0)
        while self._operator_drain.is_set() and not self._stop.is_set():
            if time.monotonic() >= deadline:
                return
            self._stop.wait(0.1)

    def _maintain(self) -> None:
        sweep_every = settings.DURABLE_SWEEP_SECONDS
        sweeps = settings.DURABLE_WORKER_SWEEPS
        last_renewal = last_sweep = float("-inf")
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                runtime.enforce_deadlines()
                self._release_when_drain_is_due()
                if now - last_renewal >= self.lease / 3:
                    last_renewal = now
                    self._heartbeat()
                if sweeps and now - last_sweep >= sweep_every and not self._draining.is_set():
                    last_sweep = now
                    sweeper.sweep_once(self.dispatcher)
            except Exception:
                logger.exception("celery executor maintenance failed; retrying")
                connection.close()
            self._stop.wait(min(self.lease / 3, sweep_every, 1.0))
        connection.close()

    def _heartbeat(self) -> None:
        self.workflows = registry.runnable_keys()
        with self._lock:
            in_flight = dict(self._in_flight)
        liveness.heartbeat(self.executor_id, self.kind, self.workflows, in_flight, self.lease,
                           self._operator_drain)  # fmt: skip
        self._consumption.follow()  # the consumer as the drain says, should a change have failed
        if not self._released_dead:
            # At start only, as the thread executor: forget dead executors' rows (their runs
            # are recovered by the sweep, within seconds of the death)
            self._released_dead = True
            recovery.forget_dead_executors(self.executor_id)

    def drain(self, grace: float) -> None:
        """Warm shutdown: take no more runs and release each run in flight at its next step
        boundary; past `grace` seconds, release what is left. Leases are renewed meanwhile."""
        self._draining.set()
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with self._lock:
                if not self._in_flight:
                    return
            time.sleep(0.05)
        released = self._release_in_flight()
        if released:
            logger.warning("released %d run(s) still in a step at shutdown", len(released))

    def shutdown(self) -> None:
        self._stop.set()
        self._cancels.stop()
        self._thread.join(timeout=10)
        self._lifeline.stop()
        store.forget_executors([self.executor_id])


_worker: CeleryWorker | None = None
_worker_lock = threading.Lock()


def current_worker() -> CeleryWorker:
    """This process's CeleryWorker, created after fork (each prefork child has its own)."""
    global _worker
    with _worker_lock:
        if _worker is None or _worker.pid != os.getpid():
            _worker = CeleryWorker().start()
        return _worker


def drain_worker() -> None:
    """On a Celery warm shutdown (`worker_shutting_down`), in the background so Celery's own
    shutdown goes on: runs in flight are released within DURABLE_SHUTDOWN_GRACE_SECONDS."""
    worker = _worker
    if worker is None or worker.pid != os.getpid():
        return
    threading.Thread(
        target=worker.drain,
        args=(settings.DURABLE_SHUTDOWN_GRACE_SECONDS,),
        name="durable-drain",
        daemon=True,
    ).start()


def stop_worker() -> None:
    global _worker
    with _worker_lock:
        worker, _worker = _worker, None
    if worker is not None and worker.pid == os.getpid():
        try:
            worker.shutdown()
        except Exception:  # the database may be gone at shutdown; the row only goes stale
            logger.warning("could not deregister executor %s", worker.executor_id)
