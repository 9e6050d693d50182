"""Timed duties: the periodic work an executor does besides executing runs.

Executors depend on nothing above them: the engine registers its own duties here when
Django starts (cron schedules, pruning; see `durable.apps`), and each executor adds its
own (recoveries, claiming or dispatching due runs). Each duty runs isolated: one that fails
is logged and the others still run, so a broken schedule never stalls wake-ups or
recoveries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from durable.core._isolated import run_isolated

EXECUTOR_KINDS = ("thread", "celery")


@dataclass(frozen=True)
class Duty:
    name: str
    run: Callable[[], Any]
    every: float = 0.0  # seconds between two runs; 0: every pass of the executor's loop
    kinds: tuple[str, ...] = EXECUTOR_KINDS  # which executors do it


_engine_duties: dict[str, Duty] = {}


def register(duty: Duty) -> None:
    """Add (or replace, by name) a duty every executor of `duty.kinds` performs."""
    _engine_duties[duty.name] = duty


def engine_duties(kind: str) -> list[Duty]:
    return [duty for duty in _engine_duties.values() if kind in duty.kinds]


class TimedDuties:
    """An executor's duties, each run when its interval has passed, isolated from the rest."""

    def __init__(self, duties: list[Duty]) -> None:
        self.duties = duties
        self._last_run: dict[str, float] = {}

    def run_due(self) -> dict[str, Any]:
        """Run the duties that are due; returns each one's result (None if it failed)."""
        results: dict[str, Any] = {}
        for duty in self.duties:
            now = time.monotonic()
            if now - self._last_run.get(duty.name, float("-inf")) < duty.every:
                continue
            self._last_run[duty.name] = now
            results[duty.name] = run_isolated(duty.name, duty.run)
        return results
