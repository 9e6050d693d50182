"""Where a waiting run stands: runs ahead of it in its queue (in claim order), the threads
of the executors that run it, the limit that holds it, and when it would start at its
queue's current pace. The run page's "Why isn't it moving?" shows it with the ways out."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count
from django.utils import timezone

from durable import queues
from durable.models import Executor, Run, RunStatus
from durable.observability import inspection

PACE_WINDOW_S = 300.0  # the pace is the queue's claims per minute over the last 5 minutes


@dataclass(frozen=True)
class Taker:
    """A live executor, not draining, whose code runs the waiting run's version."""

    id: str
    busy: int  # runs RUNNING there
    threads: int | None  # None: it did not say (a Celery worker's pool decides)

    @property
    def free(self) -> int | None:
        return None if self.threads is None else max(self.threads - self.busy, 0)


@dataclass(frozen=True)
class Line:
    ahead: int
    takers: list[Taker]
    hold: queues.Hold | None
    per_minute: float
    limits: queues.Limits | None  # the queue's stored limits, for "raise the limit"
    queues: list[str] = field(default_factory=list)  # stored queues it could move to

    @property
    def busy(self) -> int:
        return sum(taker.busy for taker in self.takers)

    @property
    def free(self) -> int | None:
        frees = [taker.free for taker in self.takers]
        return None if None in frees else sum(frees)  # type: ignore[arg-type]

    @property
    def eta_seconds(self) -> float | None:
        """At the queue's current pace, seconds until the runs ahead and it have started
        (None: nothing of its queue started lately, so the pace says nothing)."""
        if self.per_minute <= 0:
            return None
        return (self.ahead + 1) * 60.0 / self.per_minute

    @property
    def eta_ms(self) -> float | None:
        return None if self.eta_seconds is None else self.eta_seconds * 1000


def line(run: Run) -> Line | None:
    """For a due ENQUEUED run, where it stands; None for any other run (a held one waits
    for its release, not for its place in line)."""
    if run.status != RunStatus.ENQUEUED or run.available_at > timezone.now() or run.held_at:
        return None
    stored = [limits.name for limits in queues.all_queues() if limits.name != run.queue]
    return Line(
        ahead=queues.runs_ahead(run.id),
        takers=_takers(run.workflow, run.version),
        hold=queues.hold(run.queue),
        per_minute=queues.starts_per_minute(run.queue, PACE_WINDOW_S),
        limits=queues.stored_limits(run.queue),
        queues=sorted({*stored, "default"} - {run.queue}),
    )


def _takers(workflow: str, version: str) -> list[Taker]:
    live_ids = inspection.live_executor_ids()
    live = Executor.objects.filter(id__in=live_ids, draining=False).order_by("id")
    serving = [e for e in live if workflow in e.workflows or f"{workflow}@{version}" in e.workflows]
    busy = dict(
        Run.objects.filter(status=RunStatus.RUNNING, executor_id__in=[e.id for e in serving])
        .values_list("executor_id")
        .annotate(n=Count("id"))
    )
    return [Taker(e.id, busy.get(e.id, 0), e.threads) for e in serving]
