"""Imported runs are records: marked imported, never claimed, recovered or resumed by an
executor on its own; an operator's resume runs them and is audited, as is every import;
their recorded errors are raised only as safe classes."""

from __future__ import annotations

import io
import json
import sys
import time

import pytest
from django.core.management import call_command

import durable
from durable import executors, operations
from durable.debugging import importing
from durable.debugging.replay import replay_run
from durable.errors import WorkflowError
from durable.executors import _recovery as recovery
from durable.models import AuditEntry, Run
from tests.engine import workflows
from tests.engine.import_files import document, error_record, run_entry, step_record, write

SUM_THREE = "tests.sum_three"


def _sum_three(run_id: str, status: str, **fields) -> dict:
    steps = [step_record(0, name="tests.engine.workflows.add", input={"args": [1, 2], "kwargs": {}},
                         output=3)]  # fmt: skip
    return run_entry(run_id, workflow=SUM_THREE, status=status, steps=steps,
                     input={"args": [1, 2, 3], "kwargs": {}}, **fields)  # fmt: skip


def test_imported_active_runs_are_never_taken_by_an_executor_or_the_recovery_sweep(
    transactional_db,
):
    importing.import_text(json.dumps(document(
        _sum_three("imp-enqueued", "ENQUEUED"),
        _sum_three("imp-running", "RUNNING", started_at="2026-01-01T00:00:00+00:00"),
    )), name="active.json")  # fmt: skip
    executors.get_executor()
    assert workflows.sum_three(4, 5, 6) == 15  # the executor is working
    recovery.sweep()
    time.sleep(2)  # a few polls
    for run in Run.objects.filter(id__in=["imp-enqueued", "imp-running"]):
        assert run.imported and run.status == "CANCELLED" and run.executor_id is None
        assert "imported while" in run.cancel_reason and run.steps.count() == 1


def test_an_operators_resume_runs_an_imported_run_and_is_audited(transactional_db):
    importing.import_text(json.dumps(document(_sum_three("imp-resume", "RUNNING"))), name="r.json")
    assert operations.resume("imp-resume", actor="alice", reason="debug it here") == "imp-resume"
    assert durable.get("imp-resume").result(timeout=60) == 6
    run = Run.objects.get(id="imp-resume")
    assert run.imported and run.status == "SUCCESS" and run.steps.count() == 2
    audited = AuditEntry.objects.filter(action="resume", actor="alice", run_ids=["imp-resume"])
    assert audited.exists()


def test_each_import_is_audited_with_operator_file_size_and_runs(db, tmp_path):
    path = write(tmp_path, document(run_entry("aud-1"), run_entry("aud-2")), name="incident.json")
    call_command("durable", "import", str(path), "--actor", "bob", stdout=io.StringIO())
    entry = AuditEntry.objects.get(action="import")
    assert entry.actor == "bob" and sorted(entry.run_ids) == ["aud-1", "aud-2"]
    assert entry.detail["file"].endswith("incident.json") and entry.detail["runs"] == 2
    assert entry.detail["bytes"] == path.stat().st_size


@pytest.mark.parametrize(
    "error_type", ["builtins.SystemExit", "builtins.KeyboardInterrupt", "builtins.GeneratorExit"]
)
def test_result_of_an_imported_error_never_raises_a_base_exception(db, error_type):
    entry = run_entry("imp-exit", status="ERROR", error=error_record(error_type, "0"))
    importing.import_text(json.dumps(document(entry)), name="e.json")
    with pytest.raises(WorkflowError, match=error_type):
        durable.get("imp-exit").result(timeout=5)


def test_result_of_an_imported_error_naming_a_module_imports_nothing(db, tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    (tmp_path / "planted_on_import.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Boom(Exception):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    error = error_record("planted_on_import.Boom")
    importing.import_text(json.dumps(document(run_entry("imp-mod", status="ERROR", error=error))))
    with pytest.raises(WorkflowError, match="planted_on_import.Boom"):
        durable.get("imp-mod").result(timeout=5)
    assert "planted_on_import" not in sys.modules and not marker.exists()


def test_result_of_an_imported_error_of_a_loaded_library_class_is_a_plain_error(db):
    # json is loaded, but a file's record keeps its class only within the safe set
    error = error_record("json.decoder.JSONDecodeError", "planted")
    importing.import_text(json.dumps(document(run_entry("imp-lib", status="ERROR", error=error))))
    with pytest.raises(WorkflowError, match="json.decoder.JSONDecodeError"):
        durable.get("imp-lib").result(timeout=5)


def test_an_operators_fork_of_an_imported_run_is_a_local_run_and_is_audited(transactional_db):
    importing.import_text(json.dumps(document(_sum_three("imp-fork", "ERROR"))), name="f.json")
    new_id = operations.fork("imp-fork", from_step=1, actor="carol")
    assert durable.get(new_id).result(timeout=60) == 6
    forked = Run.objects.get(id=new_id)
    assert not forked.imported and forked.forked_from_id == "imp-fork"
    assert AuditEntry.objects.filter(action="fork", actor="carol").exists()


def _caught(run_id: str, error_type: str) -> dict:
    """A run of tests.caught_type whose step 0 recorded `error_type` (the workflow caught it)
    and whose step 1 failed: a resume runs step 1 again and replays step 0's error."""
    steps = [
        step_record(0, name="tests.engine.workflows.explode", status="ERROR", output=None,
                    input={"args": ["x"], "kwargs": {}}, error=error_record(error_type)),
        step_record(1, name="tests.engine.workflows.add", status="ERROR", output=None,
                    input={"args": [1, 1], "kwargs": {}}, error=error_record("builtins.OSError")),
    ]  # fmt: skip
    return run_entry(run_id, workflow="tests.caught_type", status="RUNNING", steps=steps,
                     input={"args": ["x"], "kwargs": {}})  # fmt: skip


def test_a_resumed_imported_run_replays_its_recorded_errors_as_a_files(transactional_db):
    # json is loaded, but the file's record of a step's error keeps its class only within the
    # safe set on replay too, as in result(): the workflow catches a plain WorkflowError
    entry = _caught("imp-caught", "json.decoder.JSONDecodeError")
    importing.import_text(json.dumps(document(entry)))
    operations.resume("imp-caught", actor="alice")
    assert durable.get("imp-caught").result(timeout=60) == "durable.errors.WorkflowError"


def test_a_resumed_imported_run_keeps_a_safe_recorded_error_class(transactional_db):
    importing.import_text(json.dumps(document(_caught("imp-safe", "builtins.KeyError"))))
    operations.resume("imp-safe", actor="alice")
    assert durable.get("imp-safe").result(timeout=60) == "builtins.KeyError"


def test_a_local_replay_of_an_imported_run_replays_its_recorded_errors_as_a_files(db):
    entry = _caught("imp-replayed", "json.decoder.JSONDecodeError")
    entry["steps"][1].update(status="SUCCESS", output=2, error=None)
    importing.import_text(json.dumps(document(entry)))
    report = replay_run("imp-replayed")
    assert report.outcome == "completed"
    assert 'returned "durable.errors.WorkflowError"' in report.message
