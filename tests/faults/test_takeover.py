"""Recovery in seconds: 50 SIGKILLs of workers with runs in flight (30 thread workers, 20
Celery workers; every other one restarted at once, the others lost for good), each victim's
runs taken over by another executor within 5 s at p99, nothing lost, nothing booked twice,
and one recovery recorded per orphaned run (only deaths count). Default heartbeat (0.5 s) and
lease (30 s): the lease is not what decides. 12 runs are kept in flight on workers of 8
threads, so the survivors have free threads: what is measured is the recovery, not a queue."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.engine import celery_processes
from tests.engine.processes import PROJECT_DIR, database_url_for_tests, die_with_parent
from tests.faults.takeover import Pool, run_campaign

pytestmark = pytest.mark.slow
celery_cluster = celery_processes.celery_cluster

WORKERS = {
    "DURABLE_MODULES": "tests.faults.workflows",
    "DURABLE_LEASE_SECONDS": "30",
    "DURABLE_HEARTBEAT_SECONDS": "0.5",
    "DURABLE_MAX_RECOVERIES": "1000",
    "DURABLE_LOG_LEVEL": "WARNING",
}
P99_LIMIT = 5.0


def _thread_worker(log_dir: Path) -> subprocess.Popen:
    environment = {**os.environ, "DATABASE_URL": database_url_for_tests(),
                   "DURABLE_POLL_SECONDS": "0.2", **WORKERS}  # fmt: skip
    with open(log_dir / f"worker-{uuid.uuid4().hex[:6]}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "durable", "worker", "--threads", "8"],
            cwd=PROJECT_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )  # fmt: skip


def _kill(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(10)


def _check(figures, kind: str) -> None:
    print(f"\n{figures.summary(kind)}")
    assert figures.lost == 0 and figures.missing == 0, figures.summary(kind)
    assert figures.duplicated == 0, figures.summary(kind)
    assert figures.recoveries_recorded == len(figures.taken_over), figures.summary(kind)
    assert figures.percentile(0.99) <= P99_LIMIT, figures.summary(kind)


def test_thread_workers_killed_30_times_have_their_runs_taken_over_within_seconds(
    side_effects, settings
):
    settings.DURABLE_EXECUTOR = "external"  # the runs wait in PostgreSQL for the workers
    log_dir = Path(tempfile.mkdtemp(prefix="takeover-threads-"))
    pool = Pool(lambda: _thread_worker(log_dir), _kill)
    for _ in range(3):
        pool.spawn()
    try:
        figures = run_campaign(pool, kills=30, prefix="tk-thread")
    finally:
        for process in pool.live:
            _kill(process)
    _check(figures, "threads")


def test_celery_workers_killed_20_times_have_their_runs_taken_over_within_seconds(
    celery_cluster, side_effects
):
    def spawn() -> subprocess.Popen:
        arguments = ["-m", "celery", "-A", "config", "worker", "--pool", "threads",
                     "--concurrency", "8", "--queues", celery_cluster.queue, "--without-gossip",
                     "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING",
                     "--hostname", f"{celery_cluster.queue}-{uuid.uuid4().hex[:6]}@%h"]  # fmt: skip
        return celery_cluster.spawn(arguments, **WORKERS, DURABLE_SWEEP_SECONDS="1")

    pool = Pool(spawn, celery_cluster.kill)
    for _ in range(3):
        pool.spawn()
    celery_cluster.wait_ready(pool.live)
    figures = run_campaign(pool, kills=20, prefix="tk-celery")
    _check(figures, "celery")
