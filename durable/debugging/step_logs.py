"""Reading the log records kept per step attempt (`durable logs`, the run page)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

from durable.core.conf import settings
from durable.debugging.export import get_run
from durable.models import Run, RunStatus, StepLog

LIVE = (RunStatus.ENQUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class LogLine:
    position: int
    attempt: int
    at: str
    level: str
    logger: str
    message: str

    def render(self) -> str:
        return (f"{self.at} step {self.position} attempt {self.attempt} {self.level} "
                f"{self.logger}: {self.message}")  # fmt: skip


def batches(run_id: str, step: int | None = None, after_id: int = 0) -> list[StepLog]:
    """The run's kept batches (one per attempt that logged), oldest first."""
    rows = StepLog.objects.of_runs([run_id]).filter(id__gt=after_id)
    if step is not None:
        rows = rows.filter(position=step)
    return list(rows.order_by("position", "attempt", "id"))


def lines(found: list[StepLog]) -> Iterator[LogLine]:
    for batch in found:
        for record in batch.records:
            yield LogLine(batch.position, batch.attempt, record.get("at", ""),
                          record.get("level", ""), record.get("logger", ""),
                          record.get("message", ""))  # fmt: skip
        if batch.dropped:
            yield LogLine(batch.position, batch.attempt, "", "NOTE", "durable",
                          f"{batch.dropped} more record(s) past DURABLE_STEP_LOGS_MAX_* "
                          "were not kept")  # fmt: skip


def follow(
    run_id: str,
    step: int | None,
    write: Callable[[LogLine], None],
    every: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Write the run's log lines, then new ones as attempts end, until the run is over."""
    run = get_run(run_id)
    seen = 0
    while True:
        live = Run.objects.filter(id=run.id, status__in=LIVE).exists()
        found = batches(run.id, step, after_id=seen)
        for line in lines(found):
            write(line)
        seen = max([seen, *(batch.id for batch in found)])
        if not live or stop():
            return
        time.sleep(every)


def external_url(run: Run) -> str:
    """DURABLE_LOGS_URL_TEMPLATE filled in for this run ("" when unset)."""
    template = settings.DURABLE_LOGS_URL_TEMPLATE
    if not template:
        return ""
    return template.replace("{run_id}", quote(run.id, safe="")).replace(
        "{workflow}", quote(run.workflow, safe="")
    )
