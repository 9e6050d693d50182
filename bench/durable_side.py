"""Durable's half of the suite: step overhead, workflow throughput and start latency.

Runs on the in-process thread executor (DURABLE_THREADS threads), the embedded default.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

import durable
from bench import run_phases, timing, transactions, workloads
from durable.core.conf import settings

CLEANUP = [
    "DELETE FROM durable_step WHERE run_id IN "
    "(SELECT id FROM durable_run WHERE workflow LIKE 'bench.%%')",
    "DELETE FROM durable_attempt WHERE run_id IN "
    "(SELECT id FROM durable_run WHERE workflow LIKE 'bench.%%')",
    "DELETE FROM durable_run WHERE workflow LIKE 'bench.%%'",
    # without this the deleted rows of earlier repetitions bloat the indexes and stale
    # statistics steer the planner off the primary key (measured: 2.3 ms instead of
    # 0.4 ms per step); in production autovacuum does this work
    "VACUUM (ANALYZE) durable_run, durable_step, durable_attempt",
]


def cleanup() -> None:
    """Remove earlier benchmark runs (`bench.*` workflows only), so every run starts alike."""
    with connection.cursor() as cursor:
        for statement in CLEANUP:
            cursor.execute(statement, {})


def warm_up() -> None:
    """Start the executor and touch every code path once, outside the measurements."""
    durable.run(workloads.many_steps, 3, "warm-up")
    durable.run(workloads.five_steps)
    durable.run(workloads.first_step, "warm-up")
    durable.run(workloads.one_step)
    workloads.STEP_MARKS.clear()
    workloads.FIRST_STEP_AT.clear()


def measure(sizes: dict[str, int]) -> dict[str, Any]:
    cleanup()
    warm_up()
    label, total = "durable", sizes["workflows"]

    def run_five() -> Any:
        return durable.run(workloads.five_steps)

    results = {
        "executor": {"kind": "thread", "threads": settings.DURABLE_THREADS},
        "step_overhead": timing.step_overhead(
            label,
            lambda steps, token: durable.run(workloads.many_steps, steps, token),
            workloads.STEP_MARKS,
            sizes["step_runs"],
            sizes["steps"],
        ),
        "throughput_sequential": timing.throughput_callers(label, run_five, total, 1),
        "throughput_8_callers": timing.throughput_callers(
            label, run_five, total, 8, on_thread_exit=lambda: connection.close()
        ),
        "throughput_32_callers": timing.throughput_callers(
            label, run_five, total, 32, on_thread_exit=lambda: connection.close()
        ),
        "throughput_burst": timing.throughput_burst(
            label,
            lambda: durable.start(workloads.five_steps),
            lambda handle: handle.result(timeout=600),
            total,
        ),
        "run_one_step": run_phases.run_latency(
            lambda: durable.start(workloads.one_step), sizes["runs"]
        ),
        "start_latency": timing.start_latency(
            label,
            lambda token: durable.start(workloads.first_step, token).result(timeout=60),
            workloads.FIRST_STEP_AT,
            sizes["starts"],
        ),
    }
    if sizes.get("transaction_runs"):  # about a minute of waiting for the counters
        results["transactions"] = {
            name: transactions.per_run(lambda wf=wf: durable.run(wf), sizes["transaction_runs"])
            for name, wf in (("one_step", workloads.one_step), ("five_steps", workloads.five_steps))
        }
    return results
