"""The four timed workloads, written once for any engine: callers pass how to run them.

`durable_side.py` and `dbos_side.py` each plug in their engine's calls, so both sides are
timed by the same loops. Standard library only (it also runs in DBOS's process).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from bench.progress import Progress
from bench.stats import summarize_ms


def in_threads(count: int, target: Callable[[int], None]) -> float:
    """Run `target(index)` on `count` threads at once; the wall-clock seconds it took.

    A thread's exception is re-raised here after all threads end.
    """
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(index,)) for index in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def step_overhead(
    label: str,
    run: Callable[[int, str], Any],
    marks: dict[str, list[float]],
    runs: int,
    steps: int,
) -> dict[str, Any]:
    """Workflows of `steps` no-op steps, one at a time; the workflow appends to
    `marks[token]` before its first step and after each one, so each gap is one step."""
    deltas: list[float] = []
    totals: list[float] = []
    with Progress(f"{label}: {runs} x {steps}-step workflow", runs) as bar:
        for _ in range(runs):
            token = uuid.uuid4().hex
            started = time.perf_counter()
            run(steps, token)
            totals.append(time.perf_counter() - started)
            deltas.extend(later - earlier for earlier, later in pairwise(marks.pop(token)))
            bar.advance()
    return {**summarize_ms(deltas), "runs": runs, "steps": steps, "workflow": summarize_ms(totals)}


def throughput_callers(
    label: str,
    run: Callable[[], Any],
    total: int,
    callers: int,
    on_thread_exit: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """`callers` threads each run a five-step workflow to its end, over and over."""
    per_caller = max(1, total // callers)
    workflows = per_caller * callers

    with Progress(f"{label}: 5-step workflows, {callers} caller(s)", workflows) as bar:

        def caller(_: int) -> None:
            try:
                for _ in range(per_caller):
                    run()
                    bar.advance()
            finally:
                on_thread_exit()

        elapsed = in_threads(callers, caller)
    return {
        "workflows": workflows,
        "callers": callers,
        "seconds": elapsed,
        "workflows_per_s": workflows / elapsed,
    }


def throughput_burst(
    label: str, start: Callable[[], Any], wait: Callable[[Any], Any], total: int
) -> dict[str, Any]:
    """Start `total` five-step workflows at once, then wait for every one."""
    with Progress(f"{label}: burst of {total} 5-step workflows", total) as bar:
        started = time.perf_counter()
        handles = [start() for _ in range(total)]
        for handle in handles:
            wait(handle)
            bar.advance()
        elapsed = time.perf_counter() - started
    return {"workflows": total, "seconds": elapsed, "workflows_per_s": total / elapsed}


def start_latency(
    label: str,
    start_and_wait: Callable[[str], Any],
    first_step_at: dict[str, float],
    count: int,
) -> dict[str, Any]:
    """From calling start to the first step's body running (it stores `first_step_at[token]`),
    one run at a time."""
    samples = []
    with Progress(f"{label}: start -> first step", count) as bar:
        for _ in range(count):
            token = uuid.uuid4().hex
            started = time.perf_counter()
            start_and_wait(token)
            samples.append(first_step_at.pop(token) - started)
            bar.advance()
    return summarize_ms(samples)


def run_latency(label: str, run: Callable[[], Any], count: int) -> dict[str, Any]:
    """A one-step workflow started and waited for, one at a time: ms per whole run."""
    samples = []
    with Progress(f"{label}: run() of a one-step workflow", count) as bar:
        for _ in range(count):
            started = time.perf_counter()
            run()
            samples.append(time.perf_counter() - started)
            bar.advance()
    return summarize_ms(samples)
