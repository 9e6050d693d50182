"""Runs record their code version; executors run only versions they have. Old runs prune."""

from __future__ import annotations

import io
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

import durable
from durable.core import _registry as registry
from durable.core import store
from durable.models import Run, Step
from durable.operations import _retention as retention
from tests.engine.workflows import ledger, sum_three


def test_a_run_records_the_version_of_the_code_it_started_on(transactional_db):
    handle = durable.start(sum_three, 1, 2, 3)
    assert (
        Run.objects.get(id=handle.run_id).version
        == registry.get_workflow("tests.sum_three").version
    )


def test_runs_of_another_version_wait_and_are_listed(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(sum_three, 1, 2, 3, run_id="v-old")
    Run.objects.filter(id="v-old").update(version="0ld0ld0ld0ld")
    runnable = registry.runnable_keys()
    assert store.due_runs(runnable, 10) == []
    assert ("tests.sum_three", "0ld0ld0ld0ld", 1) in store.unclaimable_workflows(runnable)


def test_forking_an_old_version_run_moves_it_onto_the_current_code(side_effects):
    durable.run(ledger, "v-fork", ["a"], run_id="v-fork")
    Run.objects.filter(id="v-fork").update(version="0ld0ld0ld0ld")
    new_id = durable.operations.fork("v-fork", from_step=1)
    assert durable.get(new_id).result(timeout=10) == ["a"]
    assert Run.objects.get(id=new_id).version == registry.get_workflow("tests.ledger").version


def test_prune_deletes_old_finished_runs_with_their_checkpoints(side_effects):
    for index in range(5):
        durable.run(ledger, f"old-{index}", ["a"], run_id=f"old-{index}")
    durable.run(ledger, "recent", ["a"], run_id="recent")
    Run.objects.filter(id__startswith="old-").update(
        finished_at=timezone.now() - timedelta(days=40)
    )
    out = io.StringIO()
    call_command("durable", "prune", "--older-than", "30d", "--batch-size", "2", stdout=out)
    assert "pruned 5 run(s)" in out.getvalue()
    assert list(Run.objects.values_list("id", flat=True)) == ["recent"]
    assert Step.objects.filter(run__id__startswith="old-").count() == 0


def test_ages_are_read_with_units():
    assert retention.parse_age("30d") == timedelta(days=30)
    assert retention.parse_age("90m") == timedelta(minutes=90)
