"""Claiming and executing runs, one thread per run in a process (both executors).

A run can be claimed again by the executor that still executes it: it was judged dead while
alive (its lifeline lost for longer than the verdict's silence), the run was recovered and
its message or token came back to the same process. The thread already executing it stays
the one owner; when its pass ends (it was told to stop by the lapse, or not) it takes the
run back and executes it again from its checkpoints if the run is still RUNNING here, so a
run never stays RUNNING with nobody executing it, and two threads never execute one run.
"""

from __future__ import annotations

import logging
import threading
import time

from durable import queues
from durable.core import _hung as hung
from durable.core import _registry as registry
from durable.core import _runtime as runtime
from durable.core import store
from durable.core.store import ClaimedRun
from durable.executors.cancellations import RecentIds
from durable.executors.operator_drain import OperatorDrain

logger = logging.getLogger("durable")

CHAIN_LIMIT = 50  # runs of a limited queue one thread takes in a row, freeing slot after slot


class OneThreadPerRun:
    """Mixin for executors; they set `executor_id`, `_in_flight`, `_again` (runs claimed
    anew while a thread here executes them) and `_lock` in __init__."""

    executor_id: str
    _in_flight: dict[str, threading.Event]
    _again: set[str]
    _lock: threading.Lock
    _stop: threading.Event
    _draining: threading.Event  # shutting down: runs are released at their next step
    _running_on: dict[str, threading.Thread]  # run id -> the thread executing it
    _hung_runs: dict[str, threading.Thread]  # run id -> its abandoned thread, while it lives
    _operator_drain: OperatorDrain  # drained by an operator (durable.operations._drain)
    _early_cancels: RecentIds  # cancels heard for runs not (yet) executing here
    _ended_here: RecentIds  # runs whose execution here ended lately

    def _claim_and_execute(self, run_id: str, workflows: list[str]) -> bool:
        """Claim the run (for a limited or priority queue, the queue's best due run: claims
        under the queue's lock start runs in priority, then FIFO order) and execute it; after
        a run of a limited queue ends, take that queue's next run right away (up to
        CHAIN_LIMIT), since the slot it frees would otherwise wait for a poll or a sweep;
        unless a run of another queue waits for a thread here (`_others_waiting`): then the
        thread goes back to the pool, whose turn between queues serves it.
        False if nothing was claimed."""
        since = time.monotonic()
        claimed, line = queues.claim(run_id, self.executor_id, workflows, head=True)
        executed = claimed is not None
        for _ in range(CHAIN_LIMIT):
            if claimed is None:
                break
            self._execute_claimed(claimed, since)
            if line is None or not line.limited or not self._taking_runs():
                break
            if not self._holds_its_slot() or self._others_waiting(line.name):
                break
            since = time.monotonic()
            claimed = queues.claim_in_queue(line, self.executor_id, workflows)
        return executed

    def _holds_its_slot(self) -> bool:
        """Whether this thread still has its place in the executor: one abandoned in a hung
        step gave it to a replacement, and ends when the step returns."""
        return True

    def _others_waiting(self, queue_name: str) -> bool:
        """Whether due runs of a queue other than `queue_name` wait for a thread of this
        executor, as its last look at the queues found them. An executor that cannot see
        them (a Celery worker's runs wait in the broker) keeps the chain."""
        return False

    def _execute_claimed(self, claimed: ClaimedRun | None, claimed_since: float) -> None:
        """`claimed_since`: when the claim began (a cancel heard before it was undone by a
        resume, or the claim would have failed)."""
        while claimed is not None:
            run_id = claimed.run_id
            with self._lock:
                if run_id in self._in_flight:
                    self._again.add(run_id)
                    return
                cancelled = self._in_flight[run_id] = threading.Event()
                me = self._running_on[run_id] = threading.current_thread()
                heard_early = self._early_cancels.pop_since(run_id, claimed_since)
            try:
                if heard_early and self._cancelled_since_claim(run_id):
                    self._stop_early(run_id, cancelled)  # its cancel came after the claim
                runtime.execute(claimed, self.executor_id, cancelled, self._draining)
            finally:
                with self._lock:
                    again = False
                    if self._running_on.get(run_id) is me:  # not if it was abandoned (hung)
                        self._in_flight.pop(run_id, None)
                        self._running_on.pop(run_id, None)
                        self._ended_here.note(run_id)
                        again = run_id in self._again
                        self._again.discard(run_id)
                if cancelled.is_set():
                    self._end_hold(run_id)
            claimed_since = time.monotonic()
            claimed = self._take_back(run_id) if again else None

    def _end_hold(self, run_id: str) -> None:
        """This thread of the run has returned: if the run was cancelled meanwhile, the step
        it had in flight is checkpointed (or refused), so a resume may run the run again."""
        try:
            store.end_holds(self.executor_id, [run_id])
        except Exception as exc:  # the hold lapses with its lease, unrenewed from now on
            logger.warning("run %s: could not end its hold after its cancel (%s)", run_id, exc)

    def _still_holding(self) -> list[str]:
        """Runs whose abandoned (hung) thread still lives here: their leases are renewed,
        so a resume waits until that step returns, or this process ends."""
        with self._lock:
            return [run_id for run_id, thread in self._hung_runs.items() if thread.is_alive()]

    def _take_back(self, run_id: str) -> ClaimedRun | None:
        """If the run is still RUNNING here, hand it back to its queue (due now, by the
        database's clock) and claim it afresh, so its execution resumes from its latest
        checkpoints; while draining, only hand it back, for another executor."""
        store.release_runs([run_id], self.executor_id)
        if self._draining.is_set():
            return None
        return queues.claim(run_id, self.executor_id, registry.runnable_keys())[0]

    def _taking_runs(self) -> bool:
        """Not stopping, not shutting down, not drained by an operator."""
        return not (self._stop.is_set() or self._draining.is_set() or self._operator_drain.is_set())

    def _release_in_flight(self) -> list[str]:
        """Give every run in flight back to the queue now and tell its thread to stop at its
        next step boundary (its checkpoints there are refused): other executors take it."""
        with self._lock:
            left = dict(self._in_flight)
        released = store.release_runs(list(left), self.executor_id)
        for cancelled in left.values():
            cancelled.set()
        return released

    def _release_when_drain_is_due(self) -> None:
        """An operator's drain with a deadline: past it, runs still here are released."""
        if self._operator_drain.release_due():
            released = self._release_in_flight()
            if released:
                logger.warning("drained executor %s released %d run(s) still in flight: %s",
                               self.executor_id, len(released), released[:10])  # fmt: skip

    def _heard_cancel(self, run_id: str) -> bool:
        """A cancel's notice: a run executing here is told to stop (True: acknowledge it).
        So is one whose execution here has ended. One claimed but not registered yet is
        remembered, so it stops before its first step; so is any other run's, briefly (most
        belong to other executors)."""
        with self._lock:
            cancelled = self._in_flight.get(run_id)
            if cancelled is not None:
                cancelled.set()
                return True
            if run_id in self._ended_here:  # it stopped here already (at a checkpoint)
                return True
            self._early_cancels.note(run_id)
            return False

    @staticmethod
    def _cancelled_since_claim(run_id: str) -> bool:
        """Whether an early cancel stands: its notice may be late, heard after a resume
        (dispatched in-process, at once) let this claim in, and must not stop the resumed
        run; a cancel after the claim has left the run CANCELLED. Read only then, rarely."""
        outcome = store.run_outcome(run_id)
        return outcome is None or outcome[0] != "RUNNING"

    def _stop_early(self, run_id: str, cancelled: threading.Event) -> None:
        cancelled.set()
        try:
            store.acknowledge_cancels(self.executor_id, [run_id])
        except Exception as exc:  # the canceller reports it unconfirmed; the run stops anyway
            logger.warning("run %s: could not acknowledge its cancel (%s)", run_id, exc)

    def _in_flight_event(self, run_id: str) -> threading.Event | None:
        with self._lock:
            return self._in_flight.get(run_id)

    def _stack_threads(self) -> dict[str, list[tuple[threading.Thread, bool]]]:
        """For live stacks: each run's executing thread (after the helper running its step
        body under a timeout, if any), and the still-living threads of its hung steps."""
        with self._lock:
            running = dict(self._running_on)
            for run_id, thread in list(self._hung_runs.items()):
                if not thread.is_alive():
                    del self._hung_runs[run_id]
            abandoned = dict(self._hung_runs)
        threads: dict[str, list[tuple[threading.Thread, bool]]] = {}
        for found, is_hung in ((running, False), (abandoned, True)):
            for run_id, thread in found.items():
                helper = hung.helper_of(thread)
                pair = [(helper, is_hung)] if helper is not None else []
                threads.setdefault(run_id, []).extend([*pair, (thread, is_hung)])
        return threads
