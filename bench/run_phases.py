"""Where the time of one `durable.run` goes: its phases, from in-process clocks and the
rows' own timestamps (the database's `now()`; same machine, so the same wall clock). The
phases do not overlap: they add up to the whole run.

    start() call        the caller's `durable.start` returns (run row committed)
    start -> claim      start() returned to the row's claimed_at (0: claimed in its insert)
    claim -> step start the later of those two to the step's started_at
    step                the step's started_at to its finished_at (its body)
    step end -> finish  the step's finished_at to the run's finished_at: the checkpoint's
                        write, the workflow's return, until the finish statement begins
    finish -> result    the run's finished_at (its statement's now()) to `result()`
                        returning in the caller: the finish's write and commit, the wake-up
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connection

from bench.progress import Progress
from bench.stats import summarize_ms

PHASES = (
    "start_call",
    "start_to_claim",
    "claim_to_step",
    "step",
    "step_to_finish",
    "finish_to_result",
)

ROW_TIMES = """
SELECT r.id, extract(epoch FROM r.claimed_at),
       extract(epoch FROM s.started_at), extract(epoch FROM s.finished_at),
       extract(epoch FROM r.finished_at)
FROM durable_run r JOIN durable_step s ON s.run_id = r.id AND s.position = 0
WHERE r.id = ANY(%(ids)s)
"""


def run_latency(start: Callable[[], Any], count: int) -> dict[str, Any]:
    """`count` runs one at a time (`start()` returns a handle): ms per run and its phases."""
    marks: dict[str, tuple[float, float, float]] = {}
    totals = []
    with Progress("durable: run() of a one-step workflow", count) as bar:
        for _ in range(count):
            called = time.time()
            handle = start()
            started = time.time()
            handle.result(timeout=60)
            returned = time.time()
            marks[handle.run_id] = (called, started, returned)
            totals.append(returned - called)
            bar.advance()
    return {**summarize_ms(totals), "phases": _phases(marks)}


def _phases(marks: dict[str, tuple[float, float, float]]) -> dict[str, Any]:
    samples: dict[str, list[float]] = {phase: [] for phase in PHASES}
    with connection.cursor() as cursor:
        cursor.execute(ROW_TIMES, {"ids": list(marks)})
        rows = cursor.fetchall()
    for run_id, claimed, step_started, step_finished, finished in rows:
        called, started, returned = marks[run_id]
        claimed, step_started, step_finished, finished = (
            float(value) for value in (claimed, step_started, step_finished, finished)
        )
        values = (
            started - called,
            max(claimed, started) - started,
            step_started - max(claimed, started),
            step_finished - step_started,
            finished - step_finished,
            returned - finished,
        )
        for phase, value in zip(PHASES, values, strict=True):
            samples[phase].append(max(value, 0.0))
    return {phase: summarize_ms(values) for phase, values in samples.items()}
