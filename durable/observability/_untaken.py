"""Due runs that no executor takes, grouped by queue and code version, each with why and
the operator's fix: every executor that runs them is drained (undrain), none runs their
version (fork onto the current code, or deploy it), or their queue's limit is full (raise
it). The health page, `/health` (degraded) and `/metrics` read the same groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from durable import queues
from durable.core import _serving as serving
from durable.core._serving import LiveExecutor
from durable.core.store import _monitoring as store_monitoring

CAUSES = ("drained", "unserved", "concurrency", "rate_limit")


@dataclass(frozen=True)
class Untaken:
    """Due runs of one workflow version in one queue that no executor takes now."""

    queue: str
    workflow: str
    version: str
    count: int
    waited_s: float  # how long the oldest has been due
    cause: str  # one of CAUSES
    reason: str
    run_ids: list[str] = field(default_factory=list)
    drained: list[str] = field(default_factory=list)  # executors an undrain would free
    forkable: bool = False  # some live code runs another version: a fork onto it would run


def untaken(sample: int = 10) -> list[Untaken]:
    """Every group of due runs no executor takes, oldest first, with up to `sample` ids."""
    fleet = serving.live_executors()
    served = None  # versions any live code runs: read once, only for an unserved group
    holds: dict[str, queues.Hold | None] = {}
    groups = []
    rows = store_monitoring.due_groups(sample)
    for queue, workflow, version, count, waited, run_ids in rows:
        takers = [e for e in fleet if e.runs(workflow, version)]
        if any(not e.draining for e in takers):
            if queue not in holds:
                holds[queue] = queues.hold(queue)
            group = _held(holds[queue], workflow, version, count, waited)
        elif takers:
            group = _drained(queue, workflow, version, count, waited, takers)
        else:
            served = served if served is not None else serving.served_keys()
            group = _unserved(queue, workflow, version, count, waited, served)
        if group is not None:
            groups.append(Untaken(**{**group.__dict__, "run_ids": run_ids or []}))
    return groups


def _held(
    hold: queues.Hold | None, workflow: str, version: str, count: int, waited: float
) -> Untaken | None:
    if hold is None:
        return None  # an executor takes these: they are only in line
    reason = f"{hold.reason}: raise the limit to let them through"
    return Untaken(hold.queue, workflow, version, count, waited, hold.limit, reason)


def _drained(
    queue: str, workflow: str, version: str, count: int, waited: float,
    takers: list[LiveExecutor],
) -> Untaken:  # fmt: skip
    names = ", ".join(e.id for e in takers)
    reason = (
        f"every executor that runs {workflow} is draining ({names}): none takes new runs; "
        "undrain one, or start a worker"
    )
    return Untaken(queue, workflow, version, count, waited, "drained", reason,
                   drained=[e.id for e in takers])  # fmt: skip


def _unserved(
    queue: str, workflow: str, version: str, count: int, waited: float, served: set[str]
) -> Untaken:
    other_version = serving.unserved_reason(workflow, version, served)
    reason = other_version or (
        f"no live executor runs {workflow}: start a worker with the code that defines it"
    )
    return Untaken(queue, workflow, version, count, waited, "unserved", reason,
                   forkable=bool(other_version))  # fmt: skip
