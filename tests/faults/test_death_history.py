"""Why a run went DEAD: each death verdict is recorded with the dead executor (id, host, pid,
last heartbeat), and a "dead" owner later seen alive is flagged (the GIL hint); the engine's
read function and `durable show` say so."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

import durable
from durable import operations
from durable.core import store
from durable.executors import _recovery as recovery
from durable.executors import liveness
from durable.models import Executor, Run
from tests.faults.workflows import ledger


def _owner_died(run_id: str, executor_id: str, pid: int) -> None:
    """`executor_id` (on host-a, `pid`) claims the run, then falls silent without its lock."""
    Executor.objects.create(id=executor_id, kind="thread", hostname="host-a", pid=pid, workflows=[])
    store.claim_run(run_id, executor_id, 30, ["faults.ledger"])
    long_ago = timezone.now() - timedelta(seconds=60)
    Executor.objects.filter(id=executor_id).update(last_seen_at=long_ago)


def _show(run_id: str) -> str:
    out = io.StringIO()
    call_command("durable", "show", run_id, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_run_whose_owners_died_past_its_limit_says_which_died_and_when(
    transactional_db, settings
):
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_MAX_RECOVERIES = 1
    durable.start(ledger, "dh-1", 1, 0, run_id="dh-1")
    _owner_died("dh-1", "thread:host-a:101:first", 101)
    assert recovery.sweep() == (["dh-1"], [])
    _owner_died("dh-1", "thread:host-a:202:second", 202)
    assert recovery.sweep() == ([], ["dh-1"])
    assert Run.objects.get(id="dh-1").status == "DEAD"
    deaths = operations.run_deaths("dh-1")
    assert [(d.executor_id, d.hostname, d.pid, d.outcome) for d in deaths] == [
        ("thread:host-a:101:first", "host-a", 101, "ENQUEUED"),
        ("thread:host-a:202:second", "host-a", 202, "DEAD"),
    ]
    assert all(d.alive_at is None and "process was gone" in d.hint for d in deaths)
    shown = _show("dh-1")
    assert "thread:host-a:101:first (host host-a, pid 101)" in shown
    assert "thread:host-a:202:second (host host-a, pid 202)" in shown


def test_an_owner_that_finds_its_run_taken_is_flagged_alive_after_its_death(
    transactional_db, settings
):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "dh-2", 1, 0, run_id="dh-2")
    _owner_died("dh-2", "thread:host-a:303:frozen", 303)
    assert recovery.sweep() == (["dh-2"], [])
    Executor.objects.filter(id="thread:host-a:303:frozen").delete()  # no later heartbeat seen
    assert operations.run_deaths("dh-2")[0].alive_at is None
    stopped = threading.Event()
    # the frozen owner wakes (its GIL-holding step returned) and renews its leases
    liveness.heartbeat("thread:host-a:303:frozen", "thread", [], {"dh-2": stopped}, 30)
    assert stopped.is_set()  # told to stop at its next step boundary
    death = operations.run_deaths("dh-2")[0]
    assert death.alive_at is not None and "GIL" in death.hint
    assert "was alive at" in _show("dh-2")
