"""Operator actions, retention and the clock ride out a dropped connection: the store's one
execute path retries a statement in place, an operator batch's transaction is retried whole
unless its commit got through; no error reaches the caller and nothing is done twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import F

import durable
from durable import operations
from durable.core import _clock as clock
from durable.core import store
from durable.core.store import _forks as store_forks
from durable.core.store import _trees as store_trees
from durable.models import AuditEntry, Run, RunStatus, Step
from durable.operations import _retention as retention
from tests.engine.test_operations import _failed_run
from tests.engine.workflows import ledger
from tests.faults.conftest import drop_connections


def _drop_before_first_call(monkeypatch, module: Any, name: str) -> list[int]:
    """The first call of module.<name> finds every connection of the test database ended
    (from another session, as a failover does), then runs as written."""
    real = getattr(module, name)
    dropped: list[int] = []

    def drop_then_call(*args, **kwargs):
        if not dropped:
            dropped.append(drop_connections())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, drop_then_call)
    return dropped


def test_a_resume_whose_connection_drops_resumes_the_run_once(side_effects, monkeypatch):
    handle = _failed_run("blip-resume")
    dropped = _drop_before_first_call(monkeypatch, store_trees, "resume_runs")
    assert operations.resume("blip-resume", actor="alice") == "blip-resume"
    assert dropped, "the fault was not injected"
    assert handle.result(timeout=20) == "done"
    assert side_effects("blip-resume") == {"first": 1, "second": 1, "third": 1}
    assert AuditEntry.objects.filter(action="resume", run_ids=["blip-resume"]).count() == 1


def test_a_fork_whose_connection_drops_creates_one_run_with_its_checkpoints_once(
    side_effects, monkeypatch
):
    durable.run(ledger, "blip-fork", ["a", "b", "c"], run_id="blip-fork")
    dropped = _drop_before_first_call(monkeypatch, store_forks, "copy_history")
    new_id = operations.fork("blip-fork", from_step=2)
    assert dropped, "the fault was not injected"
    assert durable.get(new_id).result(timeout=20) == ["a", "b", "c"]
    assert Run.objects.filter(forked_from_id="blip-fork").count() == 1
    copied = Step.objects.filter(run_id=new_id, position__lt=2).count()
    assert copied == 2  # the checkpoints before the fork point, each copied once
    assert side_effects("blip-fork") == {"a": 1, "b": 1, "c": 2}
    assert AuditEntry.objects.filter(action="fork", run_ids=["blip-fork"]).count() == 1


def test_a_prune_whose_connection_drops_deletes_every_old_run_and_says_how_many(
    side_effects, monkeypatch
):
    for index in range(3):
        durable.run(ledger, f"blip-old-{index}", ["x"], run_id=f"blip-old-{index}")
    Run.objects.filter(id__startswith="blip-old-").update(
        finished_at=F("finished_at") - timedelta(days=40)
    )
    durable.run(ledger, "blip-new", ["y"], run_id="blip-new")
    dropped = _drop_before_first_call(monkeypatch, store_trees, "prune_batch")
    assert retention.prune(timedelta(days=30), batch_size=2) == 3
    assert dropped, "the fault was not injected"
    assert list(Run.objects.values_list("id", flat=True)) == ["blip-new"]
    assert Run.objects.get(id="blip-new").status == RunStatus.SUCCESS


def test_the_clock_reads_the_database_time_through_a_dropped_connection(
    transactional_db, monkeypatch
):
    monkeypatch.setattr(clock, "_synced", None)  # the next now() asks the database
    dropped = _drop_before_first_call(monkeypatch, store, "database_clock")
    before = clock.now()
    assert dropped, "the fault was not injected"
    assert abs((clock.now() - before).total_seconds()) < 60
