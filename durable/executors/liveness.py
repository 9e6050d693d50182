"""An executor's heartbeat: announce itself, renew its runs' leases, hear of cancellations."""

from __future__ import annotations

import os
import threading

from durable.core import _runtime as runtime
from durable.core import store
from durable.executors.identity import hostname
from durable.executors.operator_drain import OperatorDrain


def heartbeat(
    executor_id: str,
    kind: str,
    workflows: list[str],
    in_flight: dict[str, threading.Event],
    lease: float,
    drain: OperatorDrain | None = None,
) -> None:
    """Runs whose lease could not be renewed were cancelled or taken over: tell them to stop
    at their next step boundary by setting their event. `drain` learns the operator's word."""
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
    still_ours = store.renew_leases(executor_id, list(in_flight), lease)
    for run_id, cancelled in in_flight.items():
        if run_id not in still_ours:
            cancelled.set()
