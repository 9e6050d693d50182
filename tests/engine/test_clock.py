"""One clock: deadlines and wake-ups follow the database's clock, not the worker's."""

from __future__ import annotations

import importlib
import sys
import time
from datetime import datetime, timedelta

import pytest

import durable
from durable import executors
from durable.core import _clock as clock
from durable.errors import RunCancelledError
from durable.models import Run
from tests.engine.workflows import note

ENGINE_MODULES = [
    "durable.primitives._sleep",
    "durable.primitives._messaging",
    "durable.core._steps",
    "durable.schedules",
    "durable.core._runtime",
    "durable.executors.thread",
    "durable.operations._retention",
]


def skew_python_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Make this worker's wall clock run `seconds` off: every `datetime.now()` the engine's
    modules call, and Django's `timezone.now()`, answer skewed."""
    skew = timedelta(seconds=seconds)
    real_now = datetime.now

    class SkewedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return real_now(tz) + skew

    for name in ENGINE_MODULES:
        importlib.import_module(name)
    for name, module in list(sys.modules.items()):
        if name.startswith("durable") and getattr(module, "datetime", None) is datetime:
            monkeypatch.setattr(module, "datetime", SkewedDatetime)
    from django.utils import timezone

    real_timezone_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_timezone_now() + skew)
    monkeypatch.setattr(clock, "_synced", None)


@durable.workflow(name="tests.clock.sleeper")
def clock_sleeper(seconds: float) -> str:
    durable.sleep(seconds)
    return "awake"


@durable.workflow(name="tests.clock.ticking")
def ticking(run_id: str, ticks: int) -> str:
    for index in range(ticks):
        note(run_id, f"tick-{index}")
        time.sleep(0.1)
    return "done"


@pytest.fixture
def fast_parking(settings):
    settings.DURABLE_SLEEP_INLINE_SECONDS = 0.2
    settings.DURABLE_POLL_SECONDS = 0.1


@pytest.mark.slow
def test_a_worker_clock_ahead_does_not_park_a_sleeping_run_longer(
    transactional_db, fast_parking, monkeypatch
):
    skew_python_clock(monkeypatch, +30)
    started = time.monotonic()
    handle = durable.start(clock_sleeper, 1.0, run_id="clock-ahead")
    assert handle.result(timeout=8) == "awake"
    assert time.monotonic() - started < 4
    run = Run.objects.get(id="clock-ahead")
    assert abs((run.available_at - run.created_at).total_seconds() - 1.0) < 0.5


def test_a_worker_clock_behind_does_not_wake_a_sleeping_run_early(
    transactional_db, fast_parking, monkeypatch
):
    skew_python_clock(monkeypatch, -30)
    handle = durable.start(clock_sleeper, 1.0, run_id="clock-behind")
    assert handle.result(timeout=8) == "awake"
    run = Run.objects.get(id="clock-behind")
    # parked until the database's now + 1 s, not a moment already 29 s in its past
    assert abs((run.available_at - run.created_at).total_seconds() - 1.0) < 0.5


@pytest.mark.slow
def test_a_worker_clock_behind_still_times_out_at_the_deadline(side_effects, settings, monkeypatch):
    settings.DURABLE_EXECUTOR = "external"  # started by a web process with a true clock
    handle = durable.start(ticking, "clock-deadline", 40, run_id="clock-deadline", timeout=1)
    skew_python_clock(monkeypatch, -30)  # executed by a worker whose clock is 30 s behind
    executors.start_thread_executor()
    with pytest.raises(RunCancelledError, match="timed out"):
        handle.result(timeout=10)
    assert len(side_effects("clock-deadline")) <= 15
