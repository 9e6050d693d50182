"""Durable's half of the suite: step overhead, workflow throughput and start latency.

Runs on the in-process thread executor (DURABLE_THREADS threads), the embedded default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection

import durable
from bench import floor, run_phases, timing, transactions, workloads
from durable.core.conf import settings

HISTORY_WORKFLOW = "bench-history.five_steps"  # not `bench.%`: cleanup keeps it
HISTORY_STEPS = 5

CLEANUP = [
    "DELETE FROM durable_step WHERE run_id IN "
    "(SELECT id FROM durable_run WHERE workflow LIKE 'bench.%%')",
    "DELETE FROM durable_attempt WHERE run_id IN "
    "(SELECT id FROM durable_run WHERE workflow LIKE 'bench.%%')",
    "DELETE FROM durable_run WHERE workflow LIKE 'bench.%%'",
]

# The history a database in use holds, in today's partition (where the runs measured land).
DROP_OLD_HISTORY = [
    "DELETE FROM durable_step WHERE run_id IN (SELECT id FROM durable_run"
    " WHERE workflow = %(workflow)s AND created_at < date_trunc('day', now()))",
    "DELETE FROM durable_run"
    " WHERE workflow = %(workflow)s AND created_at < date_trunc('day', now())",
]
HISTORY_RUNS_TODAY = (
    "SELECT count(*) FROM durable_run"
    " WHERE workflow = %(workflow)s AND created_at >= date_trunc('day', now())"
)
ADD_HISTORY_RUNS = """
INSERT INTO durable_run (id, workflow, version, status, input, output, error_type,
    error_fingerprint, tags, queue, priority, recovery_count, steps_done, cancel_reason,
    created_at, started_at, finished_at, updated_at, available_at, active_ms)
SELECT 'bench-history-' || to_char(now(), 'YYYYMMDD') || '-' || n, %(workflow)s, 'v1',
       'SUCCESS', '{"args": [], "kwargs": {}}', '5', '', '', '{}', 'default', 0, 0,
       %(steps)s, '', now(), now(), now(), now(), now(), 0
FROM generate_series(%(first)s, %(last)s) n
ON CONFLICT DO NOTHING
"""
ADD_HISTORY_STEPS = """
INSERT INTO durable_step (run_id, run_created_at, position, name, kind, status, input,
    output, error_type, error_fingerprint, attempts, started_at, finished_at, duration_ms,
    input_hash)
SELECT r.id, r.created_at, p, 'bench.noop', 'step', 'SUCCESS', '{"args": [], "kwargs": {}}',
       'null', '', '', 1, r.created_at, r.created_at, 0.01, ''
FROM durable_run r CROSS JOIN generate_series(0, %(steps)s - 1) p
WHERE r.workflow = %(workflow)s AND NOT EXISTS (SELECT 1 FROM durable_step s
      WHERE s.run_id = r.id AND s.run_created_at = r.created_at)
"""
# without this the deleted rows of earlier repetitions bloat the indexes and stale
# statistics steer the planner off the primary key (measured: 2.3 ms instead of 0.4 ms per
# step); in production autovacuum does this work
ANALYZE = "VACUUM (ANALYZE) durable_run, durable_step, durable_attempt"


def cleanup(history_runs: int = 0) -> None:
    """Remove earlier benchmark runs (`bench.*` workflows only), so every run starts alike,
    beside `history_runs` finished runs of five steps each: statistics taken of nearly
    empty tables plan every lookup of a run as a scan of the whole table, which the
    benchmark's own runs then grow by thousands of rows (measured: `run()` of a one-step
    workflow 1.3 ms in its first 150 runs, 2.9 ms in its last; a database in use has
    history, and its plans find a run by index)."""
    with connection.cursor() as cursor:
        for statement in CLEANUP:
            cursor.execute(statement, {})
        if history_runs:
            _keep_history(cursor, history_runs)
        cursor.execute(ANALYZE, {})


def _keep_history(cursor: Any, runs: int) -> None:
    params = {"workflow": HISTORY_WORKFLOW, "steps": HISTORY_STEPS}
    for statement in DROP_OLD_HISTORY:
        cursor.execute(statement, params)
    cursor.execute(HISTORY_RUNS_TODAY, params)
    have = cursor.fetchone()[0]
    if have >= runs:
        return
    print(f"  … history: {runs - have:,} finished runs of {HISTORY_STEPS} steps", flush=True)
    cursor.execute(ADD_HISTORY_RUNS, {**params, "first": have + 1, "last": runs})
    cursor.execute(ADD_HISTORY_STEPS, params)


def warm_up() -> None:
    """Start the executor and touch every code path once, outside the measurements."""
    durable.run(workloads.many_steps, 3, "warm-up")
    durable.run(workloads.five_steps)
    durable.run(workloads.first_step, "warm-up")
    durable.run(workloads.one_step)
    workloads.STEP_MARKS.clear()
    workloads.FIRST_STEP_AT.clear()


def floor_beside(
    measure: Callable[[], dict[str, Any]], connections: int, rows: int
) -> dict[str, Any]:
    """`measure()`'s figures, with the floor (`rows` commits from each of `connections`)
    measured just before and after it: on a shared machine the repetition's own floor,
    taken tens of seconds earlier, is not the floor of these seconds."""
    if not rows:
        return measure()
    floor.prepare()
    before = floor.raw_insert(connections, rows)
    figures = measure()
    after = floor.raw_insert(connections, rows)
    return {**figures, "floor_beside": {"before": before, "after": after}}


def measure(sizes: dict[str, int]) -> dict[str, Any]:
    cleanup(sizes.get("history_runs", 0))
    warm_up()
    label, total = "durable", sizes["workflows"]

    def run_five() -> Any:
        return durable.run(workloads.five_steps)

    results = {
        "executor": {"kind": "thread", "threads": settings.DURABLE_THREADS},
        "step_overhead": floor_beside(
            lambda: timing.step_overhead(
                label,
                lambda steps, token: durable.run(workloads.many_steps, steps, token),
                workloads.STEP_MARKS,
                sizes["step_runs"],
                sizes["steps"],
            ),
            1,
            sizes.get("beside_single", 0),
        ),
        "throughput_sequential": timing.throughput_callers(label, run_five, total, 1),
        "throughput_8_callers": floor_beside(
            lambda: timing.throughput_callers(
                label, run_five, total, 8, on_thread_exit=lambda: connection.close()
            ),
            8,
            sizes.get("beside_per_connection", 0),
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
        # what issue 23's target names: `durable.run()`, which executes a run claimed in
        # its insert on the calling thread; then start() and result() apart, with phases
        "run_one_step": timing.run_latency(
            label, lambda: durable.run(workloads.one_step), sizes["runs"]
        ),
        "start_result_one_step": run_phases.run_latency(
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
