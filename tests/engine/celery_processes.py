"""Real Celery worker processes on a real broker, for the Celery and queue tests.

Each test gets its own Celery queue ("durable-test-<random>") on Redis DB 5 or RabbitMQ
(tests/engine/brokers.py finds one), so no other worker on the machine consumes its
messages; every process is killed (its whole process group) when the test ends, and dies
with the test process if that is killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from celery import current_app
from django.db import connection
from kombu import pools as kombu_pools

from tests.engine import brokers
from tests.engine.processes import PROJECT_DIR, database_url_for_tests, die_with_parent, wait_for

WORKFLOWS_MODULE = "tests.engine.celery_workflows"


class CeleryCluster:
    """Worker processes consuming one test queue, and the broker the test process sends to."""

    def __init__(self, broker: str, queue: str) -> None:
        self.broker = broker
        self.broker_url = brokers.broker_url(broker)
        self.queue = queue
        self.processes: list[subprocess.Popen] = []
        self._logs: dict[int, Path] = {}
        self._log_dir = Path(tempfile.mkdtemp(prefix=f"{queue}-"))

    def start(self, count: int = 1, *, threads: int = 4, **env: str) -> list[subprocess.Popen]:
        """`celery -A config worker` processes, once each has announced itself."""
        worker = ["-m", "celery", "-A", "config", "worker", "--pool", "threads"]
        options = ["--queues", self.queue, "--without-gossip", "--without-mingle",
                   "--without-heartbeat", "--loglevel", "WARNING"]  # fmt: skip
        started = [
            self.spawn(
                [
                    *worker,
                    "--concurrency",
                    str(threads),
                    *options,
                    "--hostname",
                    f"{self.queue}-{uuid.uuid4().hex[:6]}@%h",
                ],
                **env,
            )  # fmt: skip
            for _ in range(count)
        ]
        self.wait_ready(started)
        return started

    def wait_ready(self, processes: list[subprocess.Popen]) -> None:
        pids = [process.pid for process in processes]
        wait_for(lambda: self._ready(pids), 60, f"{len(pids)} celery worker(s) to heartbeat")

    def spawn(self, arguments: list[str], **env: str) -> subprocess.Popen:
        """`python <arguments>` in the project, on the test database and the test queue."""
        environment = {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "DURABLE_MODULES": WORKFLOWS_MODULE,
            "DURABLE_EXECUTOR": "celery",
            "CELERY_BROKER_URL": self.broker_url,
            "DURABLE_CELERY_QUEUE": self.queue,
            "DURABLE_LEASE_SECONDS": "3",
            "DURABLE_SWEEP_SECONDS": "0.5",
            "DURABLE_LOG_LEVEL": "WARNING",
            **env,
        }
        log_path = self._log_dir / f"process-{len(self._logs)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, *arguments],
                cwd=PROJECT_DIR,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self._logs[process.pid] = log_path
        self.processes.append(process)
        return process

    def _ready(self, pids: list[int]) -> bool:
        for process in self.processes:
            if process.pid in pids and process.poll() is not None:
                raise AssertionError(f"celery worker exited early:\n{self.logs()}")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(DISTINCT pid) FROM durable_executor"
                " WHERE kind = 'celery' AND pid = ANY(%s)",
                [pids],
            )
            return cursor.fetchone()[0] == len(pids)

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and anything it started: no cleanup, leases left behind."""
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)
        self._delete_queue()
        shutil.rmtree(self._log_dir, ignore_errors=True)

    def logs(self) -> str:
        return "\n---\n".join(
            path.read_text(errors="replace")[-4000:] for path in self._logs.values()
        )

    def _delete_queue(self) -> None:
        with suppress(Exception), current_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(self.queue)


@contextmanager
def use_broker(url: str) -> Iterator[None]:
    """Point this process's Celery app (the dispatcher's) at the test broker."""
    app = current_app._get_current_object()
    previous = app.conf.broker_url
    previous_env = os.environ.get("CELERY_BROKER_URL")
    _drop_connections(app)
    app.conf.broker_url = url
    # Celery reads the CELERY_BROKER_URL environment variable before its configuration
    os.environ["CELERY_BROKER_URL"] = url
    try:
        yield
    finally:
        _drop_connections(app)
        app.conf.broker_url = previous
        if previous_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = previous_env


def _drop_connections(app) -> None:
    """Forget pooled broker connections and producers, so the next send uses the new URL."""
    kombu_pools.reset()  # closes and forgets every pool, keyed by URL, process-wide
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def celery_cluster(request, settings, side_effects):
    """Workers on the broker named by the test's `broker` parameter (default Redis)."""
    broker = getattr(request, "param", None) or "redis"
    queue = f"durable-test-{uuid.uuid4().hex[:10]}"
    settings.DURABLE_EXECUTOR = "celery"
    settings.DURABLE_CELERY_QUEUE = queue
    cluster = CeleryCluster(broker, queue)
    with use_broker(cluster.broker_url):
        try:
            yield cluster
        finally:
            cluster.stop()


def create_span_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS test_span (id bigserial PRIMARY KEY, run_id text NOT"
            " NULL, event text NOT NULL, at timestamptz NOT NULL)"
        )
        cursor.execute("TRUNCATE test_span")


def max_overlap() -> int:
    """The most step bodies that were inside `busy` at one instant (from test_span)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(running) FROM (SELECT sum(CASE event WHEN 'start' THEN 1 ELSE -1 END)"
            " OVER (ORDER BY at, CASE event WHEN 'end' THEN 0 ELSE 1 END, id) AS running"
            " FROM test_span) s"
        )
        return cursor.fetchone()[0] or 0
