"""Why a run was recovered or went DEAD: each death verdict on its owners, read back from
durable_recovery for the run page and `durable show`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from durable.core.store import _trees as store_trees


@dataclass(frozen=True)
class Death:
    """One verdict: `executor_id` on `hostname` (pid) was declared dead at `recovered_at`."""

    executor_id: str
    hostname: str
    pid: int | None
    last_seen_at: datetime | None
    recovered_at: datetime
    outcome: str  # "ENQUEUED" (taken over) or "DEAD" (the run's recoveries were spent)
    alive_at: datetime | None  # the owner lived after its "death": it was no death

    @property
    def hint(self) -> str:
        """What the verdict means, in one sentence for an on-call engineer."""
        if self.alive_at is not None:
            return (
                f"the executor was alive at {self.alive_at:%H:%M:%S} after it was declared dead: "
                "its process was frozen (likely a step holding the GIL, or the process was "
                "stopped) or lost its database connection; move CPU-bound calls out of the "
                "process (a multiprocessing pool, Celery's prefork pool)"
            )
        seen = f"{self.last_seen_at:%H:%M:%S}" if self.last_seen_at else "never"
        return f"its process was gone (last heartbeat {seen}); the run was taken over"


def run_deaths(run_id: str) -> list[Death]:
    """Each time an owner of `run_id` was declared dead, oldest first."""
    return [Death(*row) for row in store_trees.run_deaths(run_id)]
