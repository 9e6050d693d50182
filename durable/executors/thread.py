"""The in-process executor: a pool of threads plus one maintenance thread.

A lifeline connection holds the executor's advisory lock and heartbeats (its liveness);
a lease thread renews the leases of runs in flight (and tells a run it was taken over); a
recovery thread judges other owners and recovers the runs of dead ones;
a listener hears cancels at once; the maintenance thread runs the timed duties: the
engine's duties (schedules, pruning), claiming due runs when threads are free.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.db import connection

from durable import queues
from durable.core import _endings as endings
from durable.core import _hung as hung
from durable.core import _registry as registry
from durable.core import _runtime as runtime
from durable.core import _serving as serving
from durable.core import store
from durable.core._identity import new_executor_id
from durable.core.conf import settings
from durable.core.store import ClaimedRun
from durable.executors import _recovery as recovery
from durable.executors import duties, liveness
from durable.executors._lifeline import Lifeline
from durable.executors._stacks import StackAnswerer
from durable.executors.cancellations import CancelListener, RecentIds
from durable.executors.inflight import OneThreadPerRun
from durable.executors.operator_drain import OperatorDrain

logger = logging.getLogger("durable")
WAKE = ""  # put in the queue at shutdown so each waiting worker sees the flags at once


@dataclass(frozen=True)
class Started:
    """A run inserted already claimed by this executor, for the thread held for it;
    `since`: before its insert (a cancel heard after it stands)."""

    claimed: ClaimedRun
    since: float


class ThreadExecutor(OneThreadPerRun):
    kind = "thread"

    def __init__(self, threads: int | None = None, poll_seconds: float | None = None) -> None:
        self.executor_id = new_executor_id(self.kind)
        self.threads = threads or settings.DURABLE_THREADS
        self.poll_seconds = poll_seconds or settings.DURABLE_POLL_SECONDS
        self.lease = settings.DURABLE_LEASE_SECONDS
        self._queue: queue.Queue[str | Started] = queue.Queue()
        self._pending: set[str] = set()
        self._in_flight: dict[str, threading.Event] = {}
        self._again: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._draining = threading.Event()  # shutting down: no new runs, release at steps
        self._running_on: dict[str, threading.Thread] = {}
        self._hung_runs: dict[str, threading.Thread] = {}
        self._early_cancels, self._ended_here = RecentIds(), RecentIds()
        self._cancel_seen: dict[str, float] = {}
        self._abandoned: set[threading.Thread] = set()
        self._workers: list[threading.Thread] = []
        self._workflows: list[str] = []
        self._serves: frozenset[str] = frozenset()  # _workflows, for reserve_start
        self._warned_unclaimable: set[str] = set()
        # the queue line the next poll takes from first: the turn goes on across polls
        self._next_line = 0
        # queues (None: the plain line) whose due runs were left waiting for a thread when
        # last looked at (monotonic time): a thread chaining a limited queue's runs gives
        # way to them (`_others_waiting`)
        self._waiting_lines: frozenset[str | None] = frozenset()
        self._waiting_seen_at = 0.0
        self._gave_way: set[threading.Thread] = set()
        self._claim_lock = threading.Lock()  # the poll, or a thread that gave way, claims
        self._duties = duties.TimedDuties(
            [
                duties.Duty("deadlines", runtime.enforce_deadlines),
                duties.Duty("hung slots", self._free_hung_slots),
                *duties.engine_duties(self.kind),  # cron schedules, pruning
                duties.Duty("claim due runs", self._claim_due),
                duties.Duty("drain deadline", self._release_when_drain_is_due),
                duties.Duty("unclaimable warnings", self._warn_about_unclaimable),
            ]
        )
        self._operator_drain = OperatorDrain(self.executor_id)
        self._lifeline = Lifeline(
            self.executor_id,
            settings.DURABLE_HEARTBEAT_SECONDS,
            StackAnswerer(self.executor_id, self._stack_threads),
        )
        self._cancels = CancelListener(
            self.executor_id, self._heard_cancel, self._operator_drain.heard
        )

    def start(self) -> None:
        registry.autodiscover()
        self._set_workflows()
        duties.run_isolated("storing queue declarations", queues.store_declared)
        self._lifeline.start()  # before the first claim
        self._cancels.start()
        for index in range(self.threads):
            self._spawn(self._work, f"durable-worker-{index}")
        self._spawn(self._maintain, "durable-maintenance")
        atexit.register(self.shutdown)  # a gunicorn reload or a plain exit drains too
        logger.info("thread executor %s started with %d threads", self.executor_id, self.threads)

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(
            target=self._with_connection_cleanup(target), name=name, daemon=True
        )
        thread.start()
        self._workers.append(thread)

    @staticmethod
    def _with_connection_cleanup(target):
        def run() -> None:
            try:
                target()
            finally:
                connection.close()

        return run

    def dispatch(self, run_id: str) -> None:
        with self._lock:
            if run_id in self._pending:
                return
            self._pending.add(run_id)
        self._queue.put(run_id)

    def reserve_start(self, run_id: str, key: str) -> bool:
        """Hold a free thread for a run being started in this process (`key`:
        "name@version"), so its insert may claim it for this executor: only while taking
        runs, with the lifeline held (else the claim would be judged dead) and that code."""
        if not self._taking_runs() or not self._lifeline.holds() or hung.over_cap():
            return False
        if key not in self._serves:
            return False
        with self._lock:
            if run_id in self._pending or len(self._pending) >= self.threads:
                return False
            self._pending.add(run_id)
        return True

    def hand_started(self, claimed: ClaimedRun, since: float) -> None:
        """A run inserted claimed by this executor goes to the thread held for it; one
        handed while shutting down goes back to the queue for the others at once."""
        if self._draining.is_set() or self._stop.is_set():
            self.cancel_start(claimed.run_id)
            store.release_runs([claimed.run_id], self.executor_id)
            endings.ended(claimed.run_id)
            return
        self._queue.put(Started(claimed, since))

    def execute_started(self, claimed: ClaimedRun, since: float) -> None:
        """A run inserted claimed by this executor, executed on the thread that started it
        (`durable.run`), in the slot held for it; one started while shutting down is
        released as `hand_started` releases it."""
        if self._draining.is_set() or self._stop.is_set():
            self.hand_started(claimed, since)
            return
        try:
            self._execute_claimed(claimed, since)
        finally:
            self.cancel_start(claimed.run_id)

    def cancel_start(self, run_id: str) -> None:
        with self._lock:
            self._pending.discard(run_id)

    def free_threads(self) -> int:
        if hung.over_cap():
            return 0
        with self._lock:
            return self.threads - len(self._pending)

    def _work(self) -> None:
        me = threading.current_thread()
        while not self._stop.is_set() and not self._draining.is_set() and me not in self._abandoned:
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if item == WAKE:  # shutdown: look at the flags again now, not after the timeout
                continue
            run_id = item if isinstance(item, str) else item.claimed.run_id
            try:
                if isinstance(item, str):
                    self._execute(run_id)
                else:  # claimed in its insert (reserve_start): no claim, no checks left
                    self._execute_claimed(item.claimed, item.since)
            except BaseException:  # noqa: BLE001 - one run's failure never ends the thread
                logger.exception("executor failed while executing run %s", run_id)
                if connection.connection is not None and not connection.is_usable():
                    connection.close()
            finally:
                with self._lock:
                    self._pending.discard(run_id)
                    gave_way = me in self._gave_way
                    self._gave_way.discard(me)
            if gave_way:  # its thread is free now: the turn between queues fills it at once
                self._claim_after_giving_way()

    def _execute(self, run_id: str) -> None:
        if self._operator_drain.is_set():  # drained: the run stays ENQUEUED for the others
            return
        if not self._lifeline.holds():  # runs claimed now would be judged dead: for others
            return
        self._claim_and_execute(run_id, registry.runnable_keys())

    def _maintain(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                if first:  # announce ourselves and free dead predecessors' runs
                    self._heartbeat(starting=True)
                    self._spawn(self._keep_leases, "durable-leases")
                    self._spawn(self._keep_recovering, "durable-recoveries")
                    first = False
            except Exception:
                logger.exception("executor start-up failed; retrying")
                connection.close()
            self._duties.run_due()  # each duty isolated: one failing never stalls the rest
            self._stop.wait(self.poll_seconds)

    def _keep_leases(self) -> None:
        """Renewal has a thread of its own, so a slow sweep or prune never lets leases lapse."""
        while not self._stop.wait(self.lease / 3):
            try:
                self._heartbeat(starting=False)
            except Exception:
                logger.exception("lease renewal failed; retrying")
                connection.close()

    def _heartbeat(self, starting: bool) -> None:
        with self._lock:
            in_flight = dict(self._in_flight)
        liveness.heartbeat(self.executor_id, self.kind, self._workflows, in_flight, self.lease,
                           self._operator_drain, self._still_holding())  # fmt: skip
        if starting:
            serving.announce_threads(self.executor_id, self.threads)
            recovery.forget_dead_executors(self.executor_id)

    def _free_hung_slots(self) -> None:
        """A cancelled or timed-out run whose pool thread is stuck in a step for more than two
        polls gives its slot back: the thread is abandoned and a fresh one takes its place.
        A thread executing its own `durable.run()` is the caller's: it keeps its slot (and
        the run its lease) until the step returns, as a hung call would hold its caller."""
        now = time.monotonic()
        with self._lock:
            stuck = []
            for run_id, cancelled in self._in_flight.items():
                if not cancelled.is_set():
                    self._cancel_seen.pop(run_id, None)
                elif (
                    now - self._cancel_seen.setdefault(run_id, now) > 2 * self.poll_seconds
                    and self._running_on.get(run_id) in self._workers
                ):
                    stuck.append(run_id)
            threads = [(run_id, self._running_on.pop(run_id)) for run_id in stuck]
            claimed_again = []
            for run_id, thread in threads:
                self._in_flight.pop(run_id, None)
                self._pending.discard(run_id)
                self._cancel_seen.pop(run_id, None)
                self._abandoned.add(thread)
                self._hung_runs[run_id] = thread
                if run_id in self._again:  # resumed while the step hung: nobody runs it here
                    self._again.discard(run_id)
                    claimed_again.append(run_id)
        store.release_runs(claimed_again, self.executor_id)  # another thread takes it up
        for run_id, thread in threads:
            hung.abandon(thread, f"run {run_id} was cancelled while a step hung")
            self._spawn(self._work, "durable-worker-replacement")

    def _keep_recovering(self) -> None:
        """Judging owners has a thread of its own too: a death is acted on within a heartbeat
        of its verdict, however long the maintenance loop's other duties take."""
        while not self._stop.wait(settings.DURABLE_HEARTBEAT_SECONDS):
            duties.run_isolated("recoveries", self._recover)

    def _recover(self) -> None:
        """Recover the runs of dead owners and take up at once those this executor has room
        for (the others are claimed by whoever polls first)."""
        requeued, _ = recovery.sweep()
        if requeued and self._taking_runs():
            for run_id in requeued[: self.free_threads()]:
                self.dispatch(run_id)

    def _claim_due(self) -> None:
        if not self._taking_runs() or not self._lifeline.holds():
            return  # shutting down, drained, or no lifeline: runs are for other executors
        with self._claim_lock:
            self._set_workflows()
            for run_id in self._due_runs(self.free_threads()):
                self.dispatch(run_id)

    def _holds_its_slot(self) -> bool:
        return threading.current_thread() not in self._abandoned

    def _claim_after_giving_way(self) -> None:
        try:
            self._claim_due()
        except Exception:  # the next poll claims instead
            logger.exception("claiming due runs after a thread gave way failed")
            if connection.connection is not None and not connection.is_usable():
                connection.close()

    def _others_waiting(self, queue_name: str) -> bool:
        """Whether another queue has due runs this executor could start: then the thread
        chaining `queue_name`'s runs gives way (and claims in turn once free, `_work`).
        What the last look found holds for a poll's interval; past it, the chaining thread
        looks again itself, since a poll with every thread busy does not look. So only
        chains cost the database anything: a look a poll, a claim per thread giving way."""
        if time.monotonic() - self._waiting_seen_at >= self.poll_seconds:
            self._waiting_seen_at = time.monotonic()  # one thread looks, the others use it
            try:
                self._note_waiting(self._heads(1), taken=set())
            except Exception as exc:  # the chain goes on; the poll's turn serves the others
                logger.warning("could not look for runs waiting in other queues (%s)", exc)
                return False
        if not self._waiting_lines - {queue_name}:
            return False
        with self._lock:
            self._gave_way.add(threading.current_thread())
        return True

    def _note_waiting(self, lines: list[tuple[str | None, list[str]]], taken: set[str]) -> None:
        """Remember the queues with a due run left over by this look (`lines`: each queue's
        heads, asked for one more than could be taken, so a queue whose every head was taken
        still counts when more runs wait behind them)."""
        self._waiting_lines = frozenset(
            name for name, heads in lines if any(run_id not in taken for run_id in heads)
        )
        self._waiting_seen_at = time.monotonic()

    def _set_workflows(self) -> None:
        self._workflows = registry.runnable_keys()
        self._serves = frozenset(self._workflows)

    def _due_runs(self, free: int) -> list[str]:
        """Due runs for `free` threads, taken in turn from each queue, so no queue's backlog
        crowds out the others; a limited queue gets no more than its free slots for this
        executor (a run it could not start would only hold a thread).

        The turn goes on from one poll to the next: threads come free one at a time when
        runs end at different moments, and a turn restarted at the first queue on every
        poll gave every thread to that queue's backlog until it was empty."""
        if free <= 0:
            return []
        lines = self._heads(free + 1)  # one more than taken: does a queue still wait after?
        first = self._next_line % len(lines)
        rotated = lines[first:] + lines[:first]
        in_turn = [
            (offset, run_id)
            for row in itertools.zip_longest(*(heads for _, heads in rotated))
            for offset, run_id in enumerate(row)
            if run_id
        ][:free]
        if in_turn:
            self._next_line = first + in_turn[-1][0] + 1  # the line after the last one served
        taken = [run_id for _, run_id in in_turn]
        self._note_waiting(lines, set(taken))
        return taken

    def _heads(self, count: int) -> list[tuple[str | None, list[str]]]:
        """Each queue's due runs this executor could start, up to `count` (a limited queue's
        up to its free slots): the special queues' (limited or by priority) by name, then
        the plain line's (None)."""
        special = queues.special()
        lines: list[tuple[str | None, list[str]]] = [
            (line.name, queues.queue_heads(line, self._workflows, self._room(line, count)))
            for line in special
        ]
        plain = store.due_runs(self._workflows, count, [line.name for line in special])
        return [*lines, (None, plain)]

    def _room(self, line: queues.Limits, free: int) -> int:
        return min(free, queues.free_slots(line, self.executor_id)) if line.limited else free

    def _warn_about_unclaimable(self) -> None:
        for workflow, version, count in store.unclaimable_workflows(self._workflows):
            key = f"{workflow}@{version}"
            if key not in self._warned_unclaimable:
                self._warned_unclaimable.add(key)
                logger.warning(
                    "%d run(s) of workflow %r version %r wait for an executor with that code; "
                    "deploy it (or list its module in DURABLE_MODULES), or fork the runs onto "
                    "the current version",
                    count,
                    workflow,
                    version,
                )

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking runs; give runs in flight DURABLE_SHUTDOWN_GRACE_SECONDS (0 without
        `wait`) to reach a step boundary, where each is released, while their leases are
        still renewed; then release whatever is left, so other executors take it at once."""
        if self._stop.is_set():
            return
        atexit.unregister(self.shutdown)
        self._draining.set()
        for _ in list(self._workers):
            self._queue.put(WAKE)
        grace = settings.DURABLE_SHUTDOWN_GRACE_SECONDS if wait else 0.0
        deadline = time.monotonic() + grace
        while self._runs_in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._release_left_over()
        self._stop.set()
        self._cancels.stop()
        self._lifeline.stop()
        if wait:
            for thread in self._workers:
                if thread not in self._abandoned:
                    thread.join(timeout=2)
        logger.info("thread executor %s stopped", self.executor_id)

    def _release_unstarted(self) -> list[str]:
        """Runs claimed in their insert that no thread took before the shutdown."""
        unstarted, others = [], []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, str):
                others.append(item)
            else:
                unstarted.append(item.claimed.run_id)
        for item in others:  # the wake-ups (and ids) stay: a thread waiting would sit out its poll
            self._queue.put(item)
        released = store.release_runs(unstarted, self.executor_id)
        for run_id in unstarted:
            endings.ended(run_id)
        return released

    def _runs_in_flight(self) -> list[str]:
        with self._lock:
            return list(self._in_flight)

    def _release_left_over(self) -> None:
        try:
            released = self._release_in_flight() + self._release_unstarted()
            store.forget_executors([self.executor_id])
        except Exception as exc:  # the database is gone: the leases expire instead
            logger.warning("could not release runs %s at shutdown (%s)",
                           self._runs_in_flight()[:10], exc)  # fmt: skip
            return
        if released:
            logger.warning("released %d run(s) still in a step at shutdown", len(released))
