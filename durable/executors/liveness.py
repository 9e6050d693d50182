"""An executor's announcement: what it runs, its runs' leases renewed, cancellations and
drains heard (its liveness itself is its lifeline, `durable.executors._lifeline`)."""

from __future__ import annotations

import os
import threading

from durable.core import _runtime as runtime
from durable.core import store
from durable.core._identity import hostname
from durable.executors.operator_drain import OperatorDrain


def heartbeat(
    executor_id: str,
    kind: str,
    workflows: list[str],
    in_flight: dict[str, threading.Event],
    lease: float,
    drain: OperatorDrain | None = None,
    holding: list[str] | None = None,
) -> None:
    """Runs whose lease could not be renewed were taken over, and runs found cancelled
    (their notice missed) are stopping: tell both to stop at their next step boundary by
    setting their event. `drain` learns the operator's word.
    `holding`: cancelled runs whose abandoned thread still lives here (their leases are
    renewed too: a resume waits for the step in flight to return)."""
    draining, release_in = store.heartbeat(
        executor_id=executor_id,
        kind=kind,
        hostname=hostname(),
        pid=os.getpid(),
        workflows=workflows,
    )
    if drain is not None:
        drain.update(draining, release_in)
    runtime.release_unreleased()
    renewed = store.renew_leases(executor_id, [*in_flight, *(holding or [])], lease)
    taken = [run_id for run_id in in_flight if run_id not in renewed]
    for run_id in in_flight:
        if renewed.get(run_id) != "RUNNING":
            in_flight[run_id].set()
    # a run recovered from this live executor: its page says the "death" was no death
    store.note_owner_alive(executor_id, taken)
