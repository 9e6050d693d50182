"""The death verdict: an owner is dead when the server holds no lifeline lock of it and it has
been silent for three heartbeats; never by pid, never by the lease alone while its lock lives."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

import durable
from durable.core import _serving as serving
from durable.core import store
from durable.core._identity import hostname
from durable.executors import _recovery as recovery
from durable.executors._lifeline import Lifeline
from durable.models import Executor, Recovery, Run
from tests.engine.processes import PROJECT_DIR, wait_for
from tests.faults.workflows import ledger

LONG_AGO = timedelta(seconds=600)


def _neighbour(executor_id: str, seen_ago: float, lease_left: float, run_id: str) -> None:
    """An executor on this host with a pid no process here has (another container's pid
    namespace), owning `run_id`, last heard of `seen_ago` seconds ago."""
    Executor.objects.create(
        id=executor_id, kind="thread", hostname=hostname(), pid=2**22 - 7, workflows=[]
    )
    now = timezone.now()
    Executor.objects.filter(id=executor_id).update(last_seen_at=now - timedelta(seconds=seen_ago))
    store.claim_run(run_id, executor_id, 30, ["faults.ledger"])
    Run.objects.filter(id=run_id).update(lease_expires_at=now + timedelta(seconds=lease_left))


@contextmanager
def lifeline_lock_of(executor_id: str) -> Iterator[None]:
    """The lock a live executor's lifeline holds, from a session of its own, without its
    heartbeats: a process frozen by a GIL-holding call looks exactly so from the server."""
    params = {**connection.get_connection_params(), "autocommit": True}
    with psycopg.connect(**params) as session:
        session.execute(store.TAKE_LIFELINE, {"executor_id": executor_id})
        yield


def test_an_owner_holding_its_lifeline_lock_keeps_its_run_though_silent_and_its_lease_out(
    transactional_db, settings, short_lease
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "live-1", 1, 0, run_id="live-1")
    _neighbour("thread:shared-host:1:frozen", seen_ago=600, lease_left=-60, run_id="live-1")
    with lifeline_lock_of("thread:shared-host:1:frozen"):
        assert recovery.sweep() == ([], [])
    assert Run.objects.get(id="live-1").status == "RUNNING"
    assert not Recovery.objects.exists()


def test_an_owner_whose_lock_is_gone_and_silent_three_heartbeats_is_dead_at_once(
    transactional_db, settings, short_lease
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "live-2", 1, 0, run_id="live-2")
    silence = serving.silence_seconds()
    _neighbour("thread:shared-host:1:gone", seen_ago=silence + 1, lease_left=25, run_id="live-2")
    assert recovery.sweep() == (["live-2"], [])
    death = Recovery.objects.get(run_id="live-2")
    assert (death.executor_id, death.hostname, death.pid, death.outcome) == (
        "thread:shared-host:1:gone", hostname(), 2**22 - 7, "ENQUEUED")  # fmt: skip
    assert death.last_seen_at < death.recovered_at - timedelta(seconds=silence)
    assert death.owner_alive_at is None


def test_an_owner_whose_lifeline_dropped_a_moment_ago_keeps_its_run(
    transactional_db, settings, short_lease
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "live-3", 1, 0, run_id="live-3")
    _neighbour("thread:shared-host:1:blip", seen_ago=0.2, lease_left=25, run_id="live-3")
    assert recovery.sweep() == ([], [])
    assert Run.objects.get(id="live-3").status == "RUNNING"


def test_a_lifeline_holds_the_lock_while_it_lives_and_drops_it_when_stopped(
    transactional_db, settings, short_lease
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "live-4", 1, 0, run_id="live-4")
    _neighbour("thread:here:1:lifeline", seen_ago=600, lease_left=-60, run_id="live-4")
    lifeline = Lifeline("thread:here:1:lifeline", every=0.1).start()
    try:
        assert recovery.sweep() == ([], [])
        seen = Executor.objects.get(id="thread:here:1:lifeline").last_seen_at
        assert seen > timezone.now() - timedelta(seconds=5)  # it heartbeats
    finally:
        lifeline.stop()
    Executor.objects.filter(id="thread:here:1:lifeline").update(
        last_seen_at=timezone.now() - LONG_AGO
    )
    assert recovery.sweep() == (["live-4"], [])


def test_a_lifeline_takes_its_lock_again_after_its_connection_is_cut(
    transactional_db, settings, short_lease
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "live-5", 1, 0, run_id="live-5")
    _neighbour("thread:here:1:cut", seen_ago=0, lease_left=25, run_id="live-5")
    lifeline = Lifeline("thread:here:1:cut", every=0.1).start()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name LIKE 'durable lifeline thread:here:1:cut%%'"
            )
        Executor.objects.filter(id="thread:here:1:cut").update(
            last_seen_at=timezone.now() - LONG_AGO
        )
        deadline = timezone.now() + timedelta(seconds=10)
        while not _locked("thread:here:1:cut") and timezone.now() < deadline:
            time.sleep(0.05)
        assert recovery.sweep() == ([], [])
    finally:
        lifeline.stop()


def _locked(executor_id: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(%s, 0)",
            [executor_id],
        )
        return cursor.fetchone()[0] == 1


def test_dead_executors_without_runs_are_forgotten_at_start_up(
    transactional_db, settings, short_lease
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "live-6", 1, 0, run_id="live-6")
    _neighbour("thread:shared-host:1:owner", seen_ago=600, lease_left=25, run_id="live-6")
    Executor.objects.create(id="thread:shared-host:2:idle", kind="thread", hostname="h", pid=2)
    Executor.objects.filter(id="thread:shared-host:2:idle").update(
        last_seen_at=timezone.now() - LONG_AGO
    )
    assert recovery.forget_dead_executors("thread:me:3:starting") == ["thread:shared-host:2:idle"]


def test_an_executor_without_its_lifeline_takes_no_runs(transactional_db, settings):
    """Runs it claimed would be judged dead at once (no lock, no heartbeat): it leaves them."""
    from durable import executors

    settings.DURABLE_EXECUTOR = "thread"
    executor = executors.get_executor()
    executor._lifeline.stop()  # its connection gone and not coming back
    durable.start(ledger, "live-7", 1, 0, run_id="live-7")
    time.sleep(1.5)  # several polls
    assert Run.objects.get(id="live-7").status == "ENQUEUED"


def _campaign_db(server, sql: str) -> list[tuple]:
    with server.admin(server.url.rsplit("/", 1)[1]) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.slow
def test_a_server_restart_drops_every_lifeline_yet_no_live_owner_is_judged_dead(
    private_pg, tmp_path
):
    """A restart ends every session at once, so no owner holds its lock and all have been
    silent while the server was down: the verdict waits for them to take their locks again."""
    env = {**os.environ, "DATABASE_URL": private_pg.url, "DURABLE_TEST_DATABASE": "",
           "DURABLE_MODULES": "tests.faults.workflows", "DURABLE_POLL_SECONDS": "0.2",
           "DURABLE_LEASE_SECONDS": "4", "DURABLE_EXECUTOR": "external",
           "DURABLE_MAX_RECOVERIES": "1000"}  # fmt: skip
    runs = [f"restart-{index}" for index in range(8)]
    code = "import durable; from tests.faults.workflows import ledger\n" + "".join(
        f"durable.start(ledger, {run_id!r}, 120, 0.1, run_id={run_id!r})\n" for run_id in runs
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=PROJECT_DIR,
                   env=env, check=True)  # fmt: skip
    log = (tmp_path / "workers.log").open("wb")
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "durable", "worker", "--threads", "4"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for _ in range(2)
    ]
    try:
        wait_for(lambda: _campaign_db(private_pg, "SELECT count(DISTINCT executor_id) FROM"
                                    " durable_run WHERE status = 'RUNNING'")[0][0] == 2,
               60, "both workers to have runs in flight")  # fmt: skip
        for down in (0.0, 2.0, 0.0):
            private_pg.outage(down)
            time.sleep(3)  # past the silence and the lease while owners reconnect
        wait_for(lambda: _campaign_db(private_pg, "SELECT count(*) FROM durable_run"
                                    " WHERE status <> 'SUCCESS'")[0][0] == 0,
               120, "every run to finish")  # fmt: skip
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(10)
        log.close()
    output = (tmp_path / "workers.log").read_text(errors="replace")[-3000:]
    recoveries = _campaign_db(private_pg, "SELECT run_id, executor_id FROM durable_recovery")
    assert recoveries == [], f"live owners judged dead after a restart: {recoveries}\n{output}"
