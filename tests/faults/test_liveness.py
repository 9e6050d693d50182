"""Liveness is judged by heartbeat age: a pid missing here may be a live executor next door."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

import durable
from durable.core import store
from durable.core.conf import settings as durable_settings
from durable.executors import _recovery as recovery
from durable.executors.identity import hostname
from durable.models import Executor, Run
from tests.faults.workflows import ledger


def _neighbour(executor_id: str, seen_ago: float) -> None:
    Executor.objects.create(
        id=executor_id, kind="thread", hostname=hostname(), pid=2**22 - 7, workflows=[]
    )  # same hostname, a pid no process here has: another container's pid namespace
    Executor.objects.filter(id=executor_id).update(
        last_seen_at=timezone.now() - timedelta(seconds=seen_ago)
    )


def test_a_live_executor_in_another_pid_namespace_keeps_its_leases(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "live-1", 1, 0, run_id="live-1")
    _neighbour("thread:shared-host:1:neighbour", seen_ago=1)
    store.claim_run("live-1", "thread:shared-host:1:neighbour", 30, ["faults.ledger"])
    assert recovery.release_dead_executors("thread:me:2:starting") == []
    assert recovery.sweep() == ([], [])
    assert Run.objects.get(id="live-1").status == "RUNNING"


def test_an_executor_silent_for_a_lease_is_released_at_start_up(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "live-2", 1, 0, run_id="live-2")
    _neighbour("thread:shared-host:1:gone", seen_ago=durable_settings.DURABLE_LEASE_SECONDS + 5)
    store.claim_run("live-2", "thread:shared-host:1:gone", 30, ["faults.ledger"])
    assert recovery.release_dead_executors("thread:me:2:starting") == ["thread:shared-host:1:gone"]
    assert recovery.sweep() == (["live-2"], [])
