"""`durable export` / `durable import`: a failed run, moved to a second database, intact."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

import durable
from durable.models import Run
from tests.engine import debug_workflows
from tests.engine.debug_workflows import PaymentDeclined
from tests.engine.second_database import manage, second_database


@pytest.fixture
def second(transactional_db):
    """A second, migrated database ("a laptop"), dropped after the test."""
    yield from second_database()


def _export(*args: str) -> dict:
    out = io.StringIO()
    call_command("durable", "export", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def _failed_batch() -> str:
    handle = durable.start(debug_workflows.batch, ["e1", "e2"], run_id="exp-batch")
    handle.result(timeout=20)
    for child in handle.children():
        with pytest.raises(PaymentDeclined):
            child.result(timeout=20)
    return handle.run_id


# what an import sets itself: the imported mark, and what is this database's business (a
# queue's rate-limit window, an active run's de-duplication) — docs/export-format.md
SET_BY_IMPORT = ("imported", "claimed_at", "dedup_id")


def _without_export_time(document: dict) -> dict:
    runs = [
        {**entry, "run": {k: v for k, v in entry["run"].items() if k not in SET_BY_IMPORT}}
        for entry in document["runs"]
    ]
    return {**{k: v for k, v in document.items() if k != "exported_at"}, "runs": runs}


def test_export_holds_input_checkpoints_attempts_children_and_lineage(side_effects):
    with pytest.raises(PaymentDeclined):
        durable.run(debug_workflows.checkout, "o-1", run_id="exp-1")
    document = _export("exp-1")
    assert document["format"] == "durable.run-export" and document["format_version"] == 1
    (entry,) = document["runs"]
    assert entry["run"]["input"] == {"args": ["o-1"], "kwargs": {}}
    assert entry["run"]["status"] == "ERROR"
    steps = entry["steps"]
    assert [step["name"] for step in steps][-1] == "tests.engine.debug_workflows.charge_payment"
    assert steps[-1]["input"] == {"args": ["o-1", 120], "kwargs": {}}
    assert steps[-1]["error"]["message"] == "amount 120 is over the card limit 100"
    assert steps[0]["output"] == {"order": "o-1", "amount": 120, "currency": "EUR"}
    assert entry["attempts"][0]["error"]["type"].endswith("PaymentDeclined")
    assert entry["children"] == [] and entry["lineage"]["forked_from"] is None


@pytest.mark.slow
def test_export_with_children_imports_into_a_second_database_with_equal_content(
    side_effects, tmp_path, second
):
    root = _failed_batch()
    document = _export(root, "--with-children")
    assert [entry["run"]["id"] for entry in document["runs"]] == [root, "batch-e1", "batch-e2"]
    assert document["runs"][0]["children"] == ["batch-e1", "batch-e2"]
    path = tmp_path / "run.json"
    path.write_text(json.dumps(document))

    imported = manage(second, "durable", "import", str(path), check=True)
    assert "imported batch-e1" in imported.stdout
    again = json.loads(
        manage(second, "durable", "export", root, "--with-children", check=True).stdout
    )
    assert _without_export_time(again) == _without_export_time(document)
    assert all(entry["run"]["imported"] for entry in again["runs"])


def test_import_refuses_an_id_clash_unless_renamed(side_effects, tmp_path):
    with pytest.raises(PaymentDeclined):
        durable.run(debug_workflows.checkout, "o-2", run_id="exp-2")
    path = tmp_path / "run.json"
    path.write_text(json.dumps(_export("exp-2")))
    with pytest.raises(CommandError, match="already in this database.*--rename"):
        call_command("durable", "import", str(path), stdout=io.StringIO())
    out = io.StringIO()
    call_command("durable", "import", str(path), "--rename", stdout=out)
    new_id = out.getvalue().split(" as ")[1].strip()
    renamed = Run.objects.get(id=new_id)
    assert renamed.status == "ERROR" and renamed.steps.count() == 2


def test_import_of_something_else_says_what_it_expects(transactional_db, tmp_path):
    path = tmp_path / "not.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(CommandError, match="not a run export"):
        call_command("durable", "import", str(path), stdout=io.StringIO())
