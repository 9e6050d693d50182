"""Every run has one owner; an expired lease hands the run to another executor."""

from __future__ import annotations

import threading

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import durable
from durable.core import _runtime as runtime
from durable.executors import _recovery as recovery
from durable.models import Run
from tests.engine.workflows import ledger


def test_only_one_executor_can_claim_a_run(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "lease-1", [], run_id="lease-1")
    names = ["tests.ledger"]
    assert runtime.claim("lease-1", "executor-a", names) is not None
    assert runtime.claim("lease-1", "executor-b", names) is None
    assert Run.objects.get(id="lease-1").executor_id == "executor-a"


def test_a_run_whose_lease_expired_is_recovered_and_finished_elsewhere(side_effects, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "lease-2", ["a", "b"], run_id="lease-2")
    claimed = runtime.claim("lease-2", "dead-executor", ["tests.ledger"])
    assert claimed is not None
    Run.objects.filter(id="lease-2").update(lease_expires_at=timezone.now())
    requeued, dead = recovery.sweep()
    assert (requeued, dead) == (["lease-2"], [])
    assert runtime.execute_run("lease-2", "live-executor", ["tests.ledger"], threading.Event())
    run = Run.objects.get(id="lease-2")
    assert (run.status, run.output, run.recovery_count) == ("SUCCESS", ["a", "b"], 1)


def test_a_checkpoint_from_an_executor_that_lost_its_lease_is_refused(side_effects, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "lease-3", ["a"], run_id="lease-3")
    claimed = runtime.claim("lease-3", "old-owner", ["tests.ledger"])
    Run.objects.filter(id="lease-3").update(executor_id="new-owner")
    runtime.execute(claimed, "old-owner", threading.Event())
    assert Run.objects.get(id="lease-3").status == "RUNNING"
    assert not Run.objects.get(id="lease-3").steps.exists()


def test_a_sweep_with_no_orphan_runs_only_a_cheap_look(transactional_db, settings):
    """Every executor sweeps every heartbeat: the recovery statement, which reads the history
    of each run it re-enqueues, costs PostgreSQL ~10 ms to plan at a week's partitions; with
    nobody dead it is not sent, only a look for orphans."""
    settings.DURABLE_EXECUTOR = "external"
    durable.start(ledger, "lease-4", ["a"], run_id="lease-4")
    assert runtime.claim("lease-4", "live-executor", ["tests.ledger"]) is not None
    with CaptureQueriesContext(connection) as statements:
        assert recovery.sweep() == ([], [])
    sent = " ".join(statement["sql"] for statement in statements)
    assert "-- any_orphaned --" in sent and "-- recover_orphaned --" not in sent
    Run.objects.filter(id="lease-4").update(lease_expires_at=timezone.now())
    assert recovery.sweep() == (["lease-4"], [])
