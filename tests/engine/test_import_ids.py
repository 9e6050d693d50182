"""Imported ids: checked by start's rules, never one the engine derives (child, schedule)
unless renamed, never an id already here, never adopted by a later start."""

from __future__ import annotations

import json

import pytest

import durable
from durable.debugging import importing
from durable.debugging.importing import ImportRefused
from durable.errors import RunIdConflictError
from durable.models import Run, Step
from tests.engine import debug_workflows
from tests.engine.import_files import AT, CHECKOUT, document, run_entry, step_record


def _import(*entries, rename=False) -> dict[str, str]:
    return importing.import_text(json.dumps(document(*entries)), name="t.json", rename=rename)


def _live_parent() -> Run:
    return Run.objects.create(
        id="live-parent", workflow=CHECKOUT, status="RUNNING", input={"args": [], "kwargs": {}}
    )


def test_a_planted_run_is_never_adopted_by_a_later_start_with_its_id(transactional_db):
    _import(run_entry("order-4242", output={"forged": True, "paid": 0}))
    with pytest.raises(RunIdConflictError, match="imported from a file.*choose another id"):
        durable.start(debug_workflows.checkout, "o-4242", run_id="order-4242")
    with pytest.raises(RunIdConflictError, match="imported"):
        debug_workflows.checkout.start("o-4242", run_id="order-4242")
    run = Run.objects.get(id="order-4242")
    assert run.imported and run.status == "SUCCESS" and run.input["args"] == ["o-1"]


def test_a_schedule_tick_id_is_refused_unless_renamed(db):
    tick = "tests.nightly@20261129T093500Z"
    with pytest.raises(ImportRefused, match=r"runs\[0\].run.id.*schedule.*--rename"):
        _import(run_entry(tick))
    assert not Run.objects.exists()
    new_id = _import(run_entry(tick), rename=True)[tick]
    assert new_id.startswith("imported-") and "@" not in new_id and "nightly" in new_id


def test_a_bulk_job_run_id_is_refused_unless_renamed(db):
    # a job's run id is derived from its request id: a planted one would block that job
    job_run = "durable-job-5f0c2a6e-3d1b-5c4e-9f7a-000000000000"
    with pytest.raises(ImportRefused, match=r"runs\[0\].run.id.*bulk job.*--rename"):
        _import(run_entry(job_run))
    assert not Run.objects.exists()
    assert _import(run_entry(job_run), rename=True)[job_run].startswith("imported-")


def test_a_planted_child_of_a_live_parent_is_refused_and_renamed_is_nobodys_child(db):
    _live_parent()
    planted = run_entry("live-parent~5", parent_id="live-parent")
    with pytest.raises(ImportRefused, match="child run's 'parent~N'.*--rename"):
        _import(planted)
    new_id = _import(planted, rename=True)["live-parent~5"]
    assert "~" not in new_id
    assert Run.objects.get(id=new_id).parent_id is None
    assert durable.get("live-parent").children() == []


@pytest.mark.parametrize("run_id", ["a\nb", "attacker/../victim", "a/./b", "x" * 201, "-a", ""])
def test_ids_breaking_starts_rules_are_refused_even_with_rename(db, run_id):
    for rename in (False, True):
        with pytest.raises(ImportRefused, match=r"runs\[0\]\.run\.id: invalid run id"):
            _import(run_entry(run_id), rename=rename)
    assert not Run.objects.exists()


def test_an_existing_run_id_is_refused_never_overwritten(db):
    _live_parent()
    with pytest.raises(ImportRefused, match="already in this database: live-parent.*--rename"):
        _import(run_entry("live-parent", status="SUCCESS", output={"forged": True}))
    run = Run.objects.get(id="live-parent")
    assert run.status == "RUNNING" and run.output is None and not run.imported


def test_rename_gives_fresh_ids_and_maps_child_links_consistently(db):
    parent = run_entry("p-1", steps=[step_record(0, kind="child", output={"run_id": "p-1~0"})])
    child = run_entry("p-1~0", parent_id="p-1")
    mapping = _import(parent, child, rename=True)
    assert mapping["p-1"].startswith("imported-") and mapping["p-1~0"].startswith("imported-")
    assert Run.objects.get(id=mapping["p-1~0"]).parent_id == mapping["p-1"]
    step = Step.objects.get(run_id=mapping["p-1"], position=0)
    assert step.output == {"run_id": mapping["p-1~0"]}
    again = _import(parent, child, rename=True)  # a second import of the file: other ids
    assert set(again.values()).isdisjoint(mapping.values())


def test_links_to_runs_already_here_are_dropped(db):
    _live_parent()
    _import(run_entry("orphan-1", parent_id="live-parent", forked_from_id="live-parent"))
    run = Run.objects.get(id="orphan-1")
    assert run.parent_id is None and run.forked_from_id is None


def test_a_step_row_id_and_ownership_in_the_file_are_ignored(db):
    entry = run_entry("owned-1", status="RUNNING", executor_id="thread:evil:1:abc",
                      lease_expires_at="2999-01-01T00:00:00+00:00", claimed_at=AT,
                      dedup_id="pay-1", steps=[step_record(0, id=1, run="x")])  # fmt: skip
    _import(entry)
    run = Run.objects.get(id="owned-1")
    assert (run.executor_id, run.lease_expires_at, run.claimed_at, run.dedup_id) == (None,) * 4
    assert run.status == "CANCELLED" and "imported while RUNNING" in run.cancel_reason


def test_rename_keeps_ids_apart_when_long_ids_are_cut_to_the_same_start(db):
    long_ids = ["x" * 195 + f"-{i}" for i in range(3)] + ["x" * 180 + "/.a"]  # cut: "/."
    mapping = _import(*(run_entry(run_id) for run_id in long_ids), rename=True)
    assert len(set(mapping.values())) == 4 and Run.objects.filter(imported=True).count() == 4
    assert all(len(new_id) <= 200 for new_id in mapping.values())
