"""Where a no-op step's time goes: `python bench/step_profile.py [--steps N] [--profile]`.

Runs one workflow of N no-op steps (default 2,000) on the thread executor and splits the
median step into the checkpoint's round trip (timed around the store's `record_step`) and
the Python around it; the executing thread's CPU time per step, beside the client CPU of
one floor commit, is the Python cost that load on a shared machine does not blur. Then it
asks PostgreSQL for the statement's own execution time (`EXPLAIN (ANALYZE)` of a
checkpoint, rolled back) and measures the floor (one single-row INSERT+COMMIT from one
connection) on the same server. With `--profile` the workflow runs again under cProfile
and the functions using the most CPU are printed (cProfile's own cost inflates the totals; read the
shares, not the milliseconds). With `--rounds R` it also alternates 200 floor commits and a
200-step workflow R times and reports the median of the per-round ratios, which a shared
machine's changing load blurs less than figures taken seconds apart. See
docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import setup_django  # noqa: E402

PROFILER = cProfile.Profile(time.thread_time)  # CPU time: waits on the server do not count
MARKS: list[tuple[float, float]] = []  # (perf_counter, thread_time) before and after each step
CHECKPOINTS: list[float] = []


def _marked_steps(steps: int, profile: bool) -> int:
    """The workflow body: marks wall and thread CPU time around each no-op step (under
    cProfile when asked: it runs on an executor thread, which a profiler enabled by the
    caller would not see)."""
    from bench import workloads

    if profile:
        PROFILER.enable()
    MARKS.append((time.perf_counter(), time.thread_time()))
    for _ in range(steps):
        workloads.noop()
        MARKS.append((time.perf_counter(), time.thread_time()))
    if profile:
        PROFILER.disable()
    return steps


def timed_checkpoints() -> Any:
    """Time each call of the store's checkpoint write; returns a function that undoes it."""
    from durable.core import store
    from durable.core.store import _steps as store_steps

    original = store_steps.record_step

    def timed(**params: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(**params)
        finally:
            CHECKPOINTS.append(time.perf_counter() - started)

    store.record_step = store_steps.record_step = timed  # type: ignore[assignment]

    def undo() -> None:
        store.record_step = store_steps.record_step = original  # type: ignore[assignment]

    return undo


def run_steps(steps: int, profile: bool = False) -> tuple[float, float]:
    """(median wall ms, median thread CPU ms) per step of one N-step workflow."""
    import durable

    workflow = durable.workflow(name="bench.step_profile")(_marked_steps)
    MARKS.clear()
    durable.run(workflow, steps, profile)
    walls = [(b[0] - a[0]) * 1000 for a, b in zip(MARKS, MARKS[1:], strict=False)]
    cpus = [(b[1] - a[1]) * 1000 for a, b in zip(MARKS, MARKS[1:], strict=False)]
    return statistics.median(walls), statistics.median(cpus)


def server_time_ms(repeat: int = 200) -> float:
    """Median execution time PostgreSQL reports for one checkpoint statement (EXPLAIN
    ANALYZE, in a transaction rolled back: the row is never kept, no commit is timed; its
    instrumentation adds a little per plan node)."""
    from django.db import connection, transaction

    from durable.core.store._steps import RECORD_STEP

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, executor_id FROM durable_run WHERE workflow = 'bench.step_profile' "
            "ORDER BY created_at DESC LIMIT 1"
        )
        run_id, executor_id = cursor.fetchone()
    params: dict[str, Any] = {
        "run_id": run_id, "executor_id": executor_id, "name": "bench.noop", "kind": "step",
        "status": "SUCCESS", "input": '{"args":[],"kwargs":{}}', "input_hash": "0" * 16,
        "output": "null", "error": None, "error_type": "", "error_fingerprint": "",
        "attempts": 1, "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:00:00Z", "duration_ms": 0.1, "cpu_ms": 0.1,
        "logs_dropped": 0,
    }  # fmt: skip
    for name in re.findall(r"%\((\w+)\)s", RECORD_STEP):
        params.setdefault(name, None)  # columns added since: NULL
    times = []
    for position in range(repeat):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE durable_run SET status = 'RUNNING' WHERE id = %s", [run_id])
            cursor.execute(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + RECORD_STEP,
                {**params, "position": 1_000_000 + position},
            )
            plan = cursor.fetchone()[0][0]
            times.append(plan["Execution Time"])  # prepared, the checkpoint is not planned
            transaction.set_rollback(True)
    return statistics.median(times)


def floor_ms(count: int = 3000) -> float:
    """Median ms of a single-row INSERT+COMMIT from one connection (the suite's floor)."""
    from bench import floor

    floor.prepare()
    return floor.raw_insert(1, count)["median_ms"]


def process_floor_cpu_ms(count: int = 3000) -> float:
    """Client CPU of one INSERT+COMMIT, on this thread (psycopg's work per statement)."""
    from bench import db, floor

    conn = db.connect()
    try:
        started = time.thread_time()
        for position in range(count):
            params = {"run_id": "cpu", "position": position, "output": "null"}
            conn.execute(floor.INSERT_ROW, params)
        return (time.thread_time() - started) * 1000 / count
    finally:
        conn.close()


def interleaved(rounds: int, size: int) -> tuple[float, float, float]:
    """(median step ms, median floor ms, median of the per-round ratios): each round times
    `size` floor commits, then a `size`-step workflow, so both see the same moment of a
    shared machine's load (the suite times them seconds apart)."""
    from bench import db, floor

    floor.prepare()
    conn = db.connect()
    steps, floors, ratios = [], [], []
    try:
        for index in range(rounds):
            samples = []
            for position in range(size):
                params = {"run_id": f"i{index}", "position": position, "output": "null"}
                started = time.perf_counter()
                conn.execute(floor.INSERT_ROW, params)
                samples.append((time.perf_counter() - started) * 1000)
            floor_median = statistics.median(samples)
            step_median, _ = run_steps(size)
            steps.append(step_median)
            floors.append(floor_median)
            ratios.append(step_median / floor_median)
    finally:
        conn.close()
    return statistics.median(steps), statistics.median(floors), statistics.median(ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="also run under cProfile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--rounds", type=int, default=0, help="also: floor and steps in alternating rounds"
    )
    args = parser.parse_args(argv)
    setup_django()
    from bench import durable_side

    durable_side.cleanup()
    durable_side.warm_up()
    run_steps(20)  # its statement prepared, its code warm
    undo = timed_checkpoints()
    CHECKPOINTS.clear()
    step, step_cpu = run_steps(args.steps)
    undo()
    checkpoint = statistics.median(CHECKPOINTS) * 1000
    floor = floor_ms()
    floor_cpu, server = process_floor_cpu_ms(), server_time_ms()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"floor (INSERT+COMMIT, 1 conn): {floor:.3f} ms, client CPU {floor_cpu:.3f} ms")
    print(f"no-op step (median of {args.steps}): {step:.3f} ms = {step / floor:.2f}x floor")
    print(f"  checkpoint statement, client round trip: {checkpoint:.3f} ms")
    print(f"    of which PostgreSQL executes (EXPLAIN ANALYZE, no commit): {server:.3f} ms")
    print(f"  the rest (Python around it): {step - checkpoint:.3f} ms")
    print(f"  CPU of the executing thread per step: {step_cpu:.3f} ms "
          f"(floor client: {floor_cpu:.3f} ms)")  # fmt: skip
    if args.rounds:
        step, floor, ratio = interleaved(args.rounds, 200)
        print(f"interleaved, {args.rounds} rounds of 200: step {step:.3f} ms, floor "
              f"{floor:.3f} ms, median ratio {ratio:.2f}x")  # fmt: skip
    if args.profile:
        run_steps(args.steps, profile=True)
        pstats.Stats(PROFILER).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
