"""Throughput on Celery workers next to the in-process thread executor, same workload.

    python bench/celery_throughput.py [--quick] [--workers N] [--json PATH]

Times RUNS workflows of STEPS no-op steps, two ways: end to end (this process starts them
one by one and waits for all) and drain (the runs are enqueued first, then dispatched at
once: the executor's own rate). Executors: the in-process thread executor, and 1 and 2
`celery -A config worker --pool threads` processes (or N with --workers), all with
THREADS threads. Reports workflows/s and step checkpoints/s (medians of the rounds) and
their ratios to the thread executor; the last stdout line is the JSON result.
Database: Django's (DATABASE_URL, else the embedded server); broker: CELERY_BROKER_URL,
else Redis DB 5 on 127.0.0.1. Only `bench.celery.*` runs are created and removed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DURABLE_LOG_LEVEL", "WARNING")
os.environ.setdefault("DEBUG", "0")  # production's setting: no query log on the hot path
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/5")

SIZES = {
    "full": {"runs": 500, "steps": 10, "repeat": 3},
    "quick": {"runs": 40, "steps": 5, "repeat": 1},
}
THREADS = 8
PATTERN = "bench.celery.%"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke)")
    parser.add_argument("--workers", type=int, default=None, help="only N Celery workers")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    return parser.parse_args()


def setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def cleanup() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("durable_step", "durable_attempt"):
            cursor.execute(
                f"DELETE FROM {table} WHERE run_id IN"
                " (SELECT id FROM durable_run WHERE workflow LIKE %s)",
                [PATTERN],
            )
        cursor.execute("DELETE FROM durable_run WHERE workflow LIKE %s", [PATTERN])


def count_finished(prefix: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM durable_run WHERE id LIKE %s AND status = 'SUCCESS'",
            [prefix + "%"],
        )
        return cursor.fetchone()[0]


def wait_finished(label: str, prefix: str, runs: int) -> None:
    deadline = time.perf_counter() + 600
    while count_finished(prefix) < runs:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{label}: runs did not finish within 600 s")
        time.sleep(0.01)


def rates(runs: int, steps: int, elapsed: float) -> dict[str, float]:
    return {
        "seconds": round(elapsed, 3),
        "workflows_per_s": round(runs / elapsed, 1),
        "checkpoints_per_s": round(runs * steps / elapsed, 1),
    }


def end_to_end(label: str, runs: int, steps: int) -> dict[str, float]:
    """One caller starts `runs` workflows; the clock covers the starts and the execution."""
    import durable
    from bench.celery_workflows import steps as steps_workflow

    prefix = f"bench-{label}-{uuid.uuid4().hex[:6]}-"
    started = time.perf_counter()
    for index in range(runs):
        durable.start(steps_workflow, steps, run_id=f"{prefix}{index}")
    wait_finished(label, prefix, runs)
    return rates(runs, steps, time.perf_counter() - started)


def drain(label: str, runs: int, steps: int) -> dict[str, float]:
    """`runs` already enqueued (no message yet); the clock covers dispatch and execution,
    so the figure is the executor's, not the caller's."""
    import durable
    from bench.celery_workflows import steps as steps_workflow
    from durable import executors
    from durable.core.conf import settings

    prefix = f"bench-{label}-{uuid.uuid4().hex[:6]}-"
    kind = settings.DURABLE_EXECUTOR
    executors.shutdown()
    settings.DURABLE_EXECUTOR = "external"  # record the runs, send nothing
    for index in range(runs):
        durable.start(steps_workflow, steps, run_id=f"{prefix}{index}")
    executors.shutdown()
    settings.DURABLE_EXECUTOR = kind
    started = time.perf_counter()
    for index in range(runs):
        executors.dispatch(f"{prefix}{index}")
    wait_finished(label, prefix, runs)
    return rates(runs, steps, time.perf_counter() - started)


def repeated(label: str, size: dict[str, int]) -> dict[str, Any]:
    """Median of `repeat` rounds of each measurement, after a warm-up."""
    end_to_end("warm", 10, size["steps"])
    rounds = {"end_to_end": [], "drain": []}
    for _ in range(size["repeat"]):
        rounds["end_to_end"].append(end_to_end(label, size["runs"], size["steps"]))
        rounds["drain"].append(drain(label, size["runs"], size["steps"]))
    result: dict[str, Any] = {"runs": size["runs"], "steps": size["steps"]}
    for name, items in rounds.items():
        result[name] = sorted(items, key=lambda item: item["workflows_per_s"])[len(items) // 2]
    return result


def measure_thread(size: dict[str, int]) -> dict[str, Any]:
    from durable import executors
    from durable.core.conf import settings

    settings.DURABLE_EXECUTOR = "thread"
    settings.DURABLE_THREADS = THREADS
    try:
        return repeated("thread", size)
    finally:
        executors.shutdown()


def measure_celery(workers: int, size: dict[str, int]) -> dict[str, Any]:
    from celery import current_app

    from durable import executors
    from durable.core.conf import settings

    queue = f"durable-bench-{uuid.uuid4().hex[:8]}"
    settings.DURABLE_EXECUTOR = "celery"
    settings.DURABLE_CELERY_QUEUE = queue
    processes = [spawn_worker(queue) for _ in range(workers)]
    try:
        wait_ready(processes)
        return {"workers": workers, **repeated(f"celery{workers}", size)}
    finally:
        for process in processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        executors.shutdown()
        with suppress(Exception), current_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


def spawn_worker(queue: str) -> subprocess.Popen:
    from django.db import connection

    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "DURABLE_MODULES": "bench.celery_workflows",
        "DURABLE_CELERY_QUEUE": queue,
        "DURABLE_EXECUTOR": "celery",
    }
    if os.environ.get("DATABASE_URL") is None and settings_dict["HOST"].startswith("/"):
        env["DURABLE_DATA_DIR"] = os.environ.get("DURABLE_DATA_DIR", str(ROOT / ".data"))
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
        "--concurrency", str(THREADS), "--queues", queue, "--without-gossip",
        "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING",
        "--hostname", f"{queue}-{uuid.uuid4().hex[:6]}@%h",
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def wait_ready(processes: list[subprocess.Popen]) -> None:
    from django.db import connection

    pids = [process.pid for process in processes]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("a celery worker exited at start; run it by hand to see why")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(DISTINCT pid) FROM durable_executor WHERE pid = ANY(%s)", [pids]
            )
            if cursor.fetchone()[0] == len(pids):
                return
        time.sleep(0.1)
    raise RuntimeError("celery workers did not start within 60 s")


def report(result: dict[str, Any]) -> None:
    thread = result["thread"]
    rows = [("in-process threads", thread)] + [
        (f"celery, {item['workers']} worker(s)", item) for item in result["celery"]
    ]
    for mode in ("end_to_end", "drain"):
        print(f"{mode:<28}{'workflows/s':>14}{'checkpoints/s':>16}{'vs threads':>12}")
        for label, item in rows:
            ratio = item[mode]["workflows_per_s"] / thread[mode]["workflows_per_s"]
            print(
                f"  {label:<26}{item[mode]['workflows_per_s']:>14.1f}"
                f"{item[mode]['checkpoints_per_s']:>16.1f}{ratio:>11.2f}x"
            )
    print(f"load average before/after: {result['load_before']} / {result['load_after']}")


def main() -> None:
    args = parse_args()
    setup_django()
    from durable.core.conf import settings

    size = SIZES["quick" if args.quick else "full"]
    load_before = [round(value, 1) for value in os.getloadavg()]
    cleanup()
    try:
        thread = measure_thread(size)
        counts = [args.workers] if args.workers else [1, 2]
        celery = [measure_celery(n, size) for n in counts]
    finally:
        cleanup()
    last = celery[-1]["drain"]
    result: dict[str, Any] = {
        "threads_per_executor": THREADS,
        "broker": settings.CELERY_BROKER_URL.split("://")[0],
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": [round(value, 1) for value in os.getloadavg()],
        "thread": thread,
        "celery": celery,
        "workflows_per_s": last["workflows_per_s"],
        "checkpoints_per_s": last["checkpoints_per_s"],
        "ratio_to_thread": round(last["workflows_per_s"] / thread["drain"]["workflows_per_s"], 2),
    }
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
