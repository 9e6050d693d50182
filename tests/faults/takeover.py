"""The takeover campaign: SIGKILL workers with runs in flight, some restarted and some not, and
measure from the rows' own timestamps how long their runs waited for another executor.

Takeover of a run = its next `claimed_at` minus the database's `now()` read right after the
victim died. Every run must end SUCCESS with each transactional booking exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

import durable
from tests.faults.workflows import ledger

STEPS, PAUSE = 20, 0.1  # over 2 s per run, so every worker has runs in flight


@dataclass
class Figures:
    kills: int = 0
    restarted: int = 0
    runs: int = 0
    taken_over: list[float] = field(default_factory=list)
    verdicts: list[float] = field(default_factory=list)  # death -> recovery recorded
    lost: int = 0
    duplicated: int = 0
    missing: int = 0
    recoveries_recorded: int = 0
    orphans: list[tuple[str, int]] = field(default_factory=list)  # (run id, dead owner's pid)
    unexplained: list[tuple] = field(default_factory=list)  # recoveries of no orphan seen
    deaths: list[tuple[int, str]] = field(default_factory=list)  # (victim pid, death time)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.taken_over)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self, kind: str) -> str:
        return (
            f"{kind}: {self.kills} SIGKILLs ({self.restarted} restarted), {self.runs} runs, "
            f"{len(self.taken_over)} taken over: p50 {statistics.median(self.taken_over):.2f} s, "
            f"p99 {self.percentile(0.99):.2f} s, max {max(self.taken_over):.2f} s "
            f"(death to verdict p50 {statistics.median(self.verdicts):.2f} s, "
            f"max {max(self.verdicts):.2f} s); "
            f"lost {self.lost}, duplicated {self.duplicated}, missing {self.missing}"
            + (f"; recoveries of no orphan seen (run, owner pid, owner alive at, outcome, "
               f"recovered at): {self.unexplained}; deaths (pid, at): {self.deaths}"
               if self.unexplained else "")
        )  # fmt: skip


class Pool:
    """Worker processes: `spawn()` starts one (not waiting for it), `kill` SIGKILLs one."""

    def __init__(
        self, spawn: Callable[[], subprocess.Popen], kill: Callable[[subprocess.Popen], None]
    ):
        self.spawn_process, self.kill_process = spawn, kill
        self.live: list[subprocess.Popen] = []

    def spawn(self) -> None:
        self.live.append(self.spawn_process())

    def busiest(self) -> subprocess.Popen | None:
        """A live worker owning running runs (the victim), or None."""
        owners = _rows(
            "SELECT e.pid FROM durable_run r JOIN durable_executor e ON e.id = r.executor_id"
            " WHERE r.status = 'RUNNING' AND e.pid = ANY(%s)",
            [[process.pid for process in self.live]],
        )
        pids = [pid for (pid,) in owners]
        if not pids:
            return None
        victim = random.choice(pids)
        return next(process for process in self.live if process.pid == victim)


def run_campaign(pool: Pool, kills: int, prefix: str, in_flight: int = 12) -> Figures:
    """`kills` SIGKILLs; every other victim is restarted at once, the others are replaced
    only after their runs were taken over (a host lost for good)."""
    figures = Figures()
    started: list[str] = []
    while figures.kills < kills:
        _top_up(prefix, started, in_flight)
        victim = _wait_for_victim(pool, prefix, started, in_flight)
        pool.live.remove(victim)
        # a COMMIT the victim sent just before it died may still be in its server session's
        # socket: the runs it claims are orphans too, so read them once those sessions ended.
        # Stopped first, it opens no connection (Celery opens one per task) after its ports
        # are read: one opened in between would go unwatched
        os.kill(victim.pid, signal.SIGSTOP)
        ports = _tcp_ports(victim.pid)
        pool.kill_process(victim)
        death = _rows("SELECT now()", [])[0][0]
        figures.deaths.append((victim.pid, str(death)))
        _wait_sessions_gone(ports)
        orphans = _rows(
            "SELECT r.id FROM durable_run r JOIN durable_executor e ON e.id = r.executor_id"
            " WHERE r.status = 'RUNNING' AND e.pid = %s",
            [victim.pid],
        )
        restart = figures.kills % 2 == 0
        if restart:
            pool.spawn()
            figures.restarted += 1
        figures.kills += 1
        run_ids = [run_id for (run_id,) in orphans]
        figures.orphans += [(run_id, victim.pid) for run_id in run_ids]
        figures.taken_over += _takeovers(run_ids, death, prefix)
        figures.verdicts += _verdicts(run_ids, death)
        if not restart:
            pool.spawn()
    _wait_all_done(prefix, started, 240)
    _count(figures, prefix, started)
    return figures


def _top_up(prefix: str, started: list[str], in_flight: int) -> None:
    active = _rows(
        "SELECT count(*) FROM durable_run WHERE id LIKE %s AND status IN ('ENQUEUED', 'RUNNING')",
        [f"{prefix}-%"],
    )[0][0]
    for _ in range(in_flight - active):
        run_id = f"{prefix}-{len(started)}"
        durable.start(ledger, run_id, STEPS, PAUSE, run_id=run_id)
        started.append(run_id)


def _wait_for_victim(pool: Pool, prefix: str, started: list[str], in_flight: int):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        victim = pool.busiest()
        if victim is not None:
            return victim
        _top_up(prefix, started, in_flight)
        time.sleep(0.1)
    raise AssertionError("no worker took runs for 60 s")


def _takeovers(run_ids: list[str], death, prefix: str, timeout: float = 60) -> list[float]:
    """Seconds from the death to each orphan's next claim (by another executor)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _rows(
            "SELECT id, EXTRACT(EPOCH FROM claimed_at - %s) FROM durable_run"
            " WHERE id = ANY(%s) AND claimed_at > %s",
            [death, run_ids, death],
        )
        if len(rows) == len(run_ids):
            return [float(seconds) for _, seconds in rows]
        time.sleep(0.05)
    raise AssertionError(f"{prefix}: runs {run_ids} not taken over within {timeout} s")


def _verdicts(run_ids: list[str], death) -> list[float]:
    rows = _rows(
        "SELECT EXTRACT(EPOCH FROM min(recovered_at) - %s) FROM durable_recovery"
        " WHERE run_id = ANY(%s) AND recovered_at > %s GROUP BY run_id",
        [death, run_ids, death],
    )
    return [float(seconds) for (seconds,) in rows]


def _wait_all_done(prefix: str, started: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        active = _rows(
            "SELECT count(*) FROM durable_run WHERE id = ANY(%s)"
            " AND status IN ('ENQUEUED', 'RUNNING')",
            [started],
        )[0][0]
        if active == 0:
            return
        time.sleep(0.5)


def _count(figures: Figures, prefix: str, started: list[str]) -> None:
    figures.runs = len(started)
    statuses = dict(_rows("SELECT id, status FROM durable_run WHERE id = ANY(%s)", [started]))
    figures.lost = sum(statuses.get(run_id) != "SUCCESS" for run_id in started)
    effects = _rows(
        "SELECT run_id, label, count(*) FROM test_side_effect"
        " WHERE run_id = ANY(%s) AND label LIKE 'txn-%%' GROUP BY run_id, label",
        [started],
    )
    seen = {(run_id, label): n for run_id, label, n in effects}
    for run_id in started:
        for index in range(STEPS):
            n = seen.get((run_id, f"txn-{index}"), 0)
            figures.duplicated += n > 1
            figures.missing += n < 1
    recoveries = _rows(
        "SELECT run_id, pid, owner_alive_at, outcome, recovered_at FROM durable_recovery"
        " WHERE run_id = ANY(%s) ORDER BY recovered_at",
        [started],
    )
    figures.recoveries_recorded = len(recoveries)
    unmatched = list(figures.orphans)
    for run_id, pid, *details in recoveries:
        if (run_id, pid) in unmatched:
            unmatched.remove((run_id, pid))
        else:
            figures.unexplained.append((run_id, pid, *map(str, details)))


def _tcp_ports(pid: int) -> list[int]:
    """The local ports of the process's TCP connections to PostgreSQL: its sessions' client
    ports (a connection to the broker may use a port another process uses for PostgreSQL)."""
    server_port = int(connection.settings_dict["PORT"] or 5432)
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes and int(fields[2].rsplit(":", 1)[1], 16) == server_port:
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _wait_sessions_gone(ports: list[int], timeout: float = 10) -> None:
    """Until the server has ended every session whose client used one of `ports`."""
    deadline = time.monotonic() + timeout
    while _rows(
        "SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY(%s)"
        " AND pid <> pg_backend_pid()",
        [ports],
    )[0][0]:
        if time.monotonic() > deadline:
            raise AssertionError(f"sessions on ports {ports} still open {timeout} s after the kill")
        time.sleep(0.01)


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
