"""Outages of a private PostgreSQL (never the machine's): a worker rides out what fits in
DURABLE_DB_RETRY_SECONDS and releases its run at once when the outage is longer."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import pytest

from tests.engine.processes import PROJECT_DIR
from tests.faults.servers import PrivatePostgres

pytestmark = pytest.mark.slow


def _env(server: PrivatePostgres, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": server.url, "DURABLE_TEST_DATABASE": "",
            "DURABLE_MODULES": "tests.faults.workflows", "DURABLE_POLL_SECONDS": "0.2",
            "DURABLE_EXECUTOR": "external", **extra}  # fmt: skip


def _start(server: PrivatePostgres, run_id: str, steps: int) -> None:
    code = (
        "import durable; from tests.faults.workflows import ledger;"
        f" durable.start(ledger, {run_id!r}, {steps}, 0.1, run_id={run_id!r})"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=PROJECT_DIR,
                   env=_env(server), check=True)  # fmt: skip


def _row(server: PrivatePostgres, run_id: str) -> tuple:
    with server.admin(server.url.rsplit("/", 1)[1]) as conn:
        return conn.execute(
            "SELECT status, recovery_count, (SELECT count(*) FROM durable_step s"
            " WHERE s.run_id = r.id) FROM durable_run r WHERE id = %s",
            [run_id],
        ).fetchone()


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_an_outage_longer_than_the_budget_releases_the_run_without_a_recovery(private_pg):
    _start(private_pg, "long-1", 30)
    with tempfile.TemporaryFile() as log:
        output = _run_through_outage(private_pg, log)
    assert _row(private_pg, "long-1")[:2] == ("SUCCESS", 0), output[-3000:]
    assert "released back to the queue" in output, output[-3000:]


def _run_through_outage(server: PrivatePostgres, log) -> str:
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "durable", "worker", "--threads", "2"], cwd=PROJECT_DIR,
        env=_env(server, DURABLE_DB_RETRY_SECONDS="1", DURABLE_LEASE_SECONDS="30"),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait(lambda: _row(server, "long-1")[2] >= 4, 60, "the run to be underway")
        server.outage(4.0)
        back = time.monotonic()
        _wait(lambda: _row(server, "long-1")[0] == "SUCCESS", 25, "the run to finish")
        assert time.monotonic() - back < 15, "the run waited out its 30 s lease"
    finally:
        worker.kill()
        worker.wait(10)
        log.seek(0)
    return log.read().decode(errors="replace")
