"""DBOS's half of the suite: the same workloads as `durable_side.py`, written with `dbos`.

Runs in its own process (`python -m bench.dbos_side --database-url … --sizes '{…}'`), so
DBOS's threads and pools never share a process with Durable's executor; prints one JSON
object on stdout. `dbos` comes from the optional `bench` extra, never a runtime dependency.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

from dbos import DBOS, DBOSConfig

from bench import timing

STEP_MARKS: dict[str, list[float]] = {}
FIRST_STEP_AT: dict[str, float] = {}


@DBOS.step()
def noop() -> None:
    return None


@DBOS.step()
def first(token: str) -> None:
    FIRST_STEP_AT[token] = time.perf_counter()


@DBOS.workflow()
def many_steps(steps: int, token: str) -> int:
    marks = STEP_MARKS.setdefault(token, [])
    marks.append(time.perf_counter())
    for _ in range(steps):
        noop()
        marks.append(time.perf_counter())
    return steps


@DBOS.workflow()
def five_steps() -> int:
    for _ in range(5):
        noop()
    return 5


@DBOS.workflow()
def first_step(token: str) -> None:
    first(token)


@DBOS.workflow()
def one_step() -> int:
    noop()
    return 1


def measure(database_url: str, sizes: dict[str, int]) -> dict[str, Any]:
    config: DBOSConfig = {
        "name": "durable-bench",
        "system_database_url": database_url,
        "log_level": "WARNING",
        "console_log_level": "WARNING",
    }
    DBOS(config=config)
    DBOS.launch()
    try:
        many_steps(3, "warm-up")
        five_steps()
        DBOS.start_workflow(first_step, "warm-up").get_result()
        DBOS.start_workflow(one_step).get_result()
        STEP_MARKS.clear()
        FIRST_STEP_AT.clear()
        label, total = "dbos", sizes["workflows"]
        return {
            "dbos_version": _dbos_version(),
            "step_overhead": timing.step_overhead(
                label, many_steps, STEP_MARKS, sizes["step_runs"], sizes["steps"]
            ),
            # DBOS runs a directly called workflow in the caller's thread: its fastest path
            "throughput_sequential": timing.throughput_callers(label, five_steps, total, 1),
            "throughput_8_callers": timing.throughput_callers(label, five_steps, total, 8),
            "throughput_32_callers": timing.throughput_callers(label, five_steps, total, 32),
            "throughput_burst": timing.throughput_burst(
                label,
                lambda: DBOS.start_workflow(five_steps),
                lambda handle: handle.get_result(),
                total,
            ),
            "run_one_step": timing.run_latency(
                label,
                lambda: DBOS.start_workflow(one_step).get_result(),
                sizes.get("runs", sizes["starts"]),
            ),
            "start_latency": timing.start_latency(
                label,
                lambda token: DBOS.start_workflow(first_step, token).get_result(),
                FIRST_STEP_AT,
                sizes["starts"],
            ),
        }
    finally:
        DBOS.destroy()


def _dbos_version() -> str:
    from importlib.metadata import version

    return version("dbos")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True, help="DBOS system database URL")
    parser.add_argument("--sizes", required=True, help="JSON: step_runs, steps, workflows, starts")
    args = parser.parse_args()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    results = measure(args.database_url, json.loads(args.sizes))
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
