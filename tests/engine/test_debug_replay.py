"""`durable replay`: the recorded run's code, re-run here against its history, writing nothing."""

from __future__ import annotations

import io
import json

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

import durable
from durable.debugging.replay import replay_run
from durable.models import Run, Step
from tests.engine import debug_workflows, workflows
from tests.engine.debug_workflows import PaymentDeclined
from tests.engine.second_database import manage, second_database


@pytest.fixture
def second(transactional_db):
    """A second, migrated database ("a laptop"), dropped after the test."""
    yield from second_database()


CHARGE = "tests.engine.debug_workflows.charge_payment"


@pytest.fixture
def failed_checkout(side_effects):
    with pytest.raises(PaymentDeclined):
        durable.run(debug_workflows.checkout, "o-9", run_id="replay-1")
    yield "replay-1"
    debug_workflows.CHANGES.update(rename_quote=False, double_amount=False)


def _row_counts() -> dict[str, int]:
    tables = ["durable_run", "durable_step", "durable_attempt", "durable_auditentry"]
    with connection.cursor() as cursor:
        counts = {}
        for table in [*tables, "test_side_effect"]:
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            counts[table] = cursor.fetchone()[0]
        return counts


def test_replay_stops_at_the_recorded_failure_naming_step_input_and_error(failed_checkout):
    out = io.StringIO()
    call_command("durable", "replay", failed_checkout, stdout=out)
    text = out.getvalue()
    assert "stopped at the recorded failure of step 1" in text
    assert CHARGE in text
    assert 'input: {"args": ["o-9", 120], "kwargs": {}}' in text
    assert "PaymentDeclined: amount 120 is over the card limit 100" in text


def test_replay_writes_nothing_and_runs_no_recorded_step_body(failed_checkout, side_effects):
    before, effects = _row_counts(), side_effects(failed_checkout)
    report = replay_run(failed_checkout)
    assert report.outcome == "failure"
    assert _row_counts() == before and side_effects(failed_checkout) == effects


def test_replay_reports_a_step_asked_with_another_input_as_a_divergence(failed_checkout):
    debug_workflows.CHANGES["double_amount"] = True
    report = replay_run(failed_checkout)
    assert report.outcome == "divergence" and report.position == 1
    assert report.step_name == CHARGE and '"args": ["o-9", 240]' in report.render()


def test_replay_reports_another_step_name_as_a_divergence(failed_checkout):
    debug_workflows.CHANGES["rename_quote"] = True
    report = replay_run(failed_checkout)
    assert report.outcome == "divergence" and report.position == 0
    assert "tests.debug.lookup_quote" in report.message


def test_replay_until_a_step_stops_before_it(failed_checkout):
    report = replay_run(failed_checkout, until_step=1)
    assert report.outcome == "until" and report.position == 1
    assert [name for _, name in report.replayed] == ["tests.engine.debug_workflows.fetch_quote"]


@pytest.mark.slow
def test_replay_with_pdb_on_an_imported_run_opens_the_failing_steps_frame(
    failed_checkout, tmp_path, second
):
    out = io.StringIO()
    call_command("durable", "export", failed_checkout, stdout=out)
    path = tmp_path / "run.json"
    path.write_text(out.getvalue())
    manage(second, "durable", "import", str(path), check=True)
    debugged = manage(
        second, "durable", "replay", failed_checkout, "--pdb", stdin="p amount\np order_id\nq\n"
    )
    assert debugged.returncode == 0, debugged.stderr
    text = debugged.stdout
    assert "stopped at the recorded failure of step 1" in text
    assert "(Pdb) 120" in text and "(Pdb) 'o-9'" in text
    assert "raise PaymentDeclined" in text  # the debugger stands where the step raised
    with psycopg.connect(second) as database:  # the body's own write was rolled back
        assert database.execute("SELECT count(*) FROM test_side_effect").fetchone() == (0,)


def test_replay_of_a_successful_run_completes_against_its_history(side_effects):
    assert durable.run(workflows.sum_three, 1, 2, 3, run_id="replay-ok") == 6
    report = replay_run("replay-ok")
    assert report.outcome == "completed" and "returned 6 (recorded output: 6)" in report.message
    assert len(report.replayed) == 2


def test_replay_past_the_end_of_the_history_stops_instead_of_executing(side_effects):
    durable.run(workflows.ledger, "replay-end", ["a", "b"], run_id="replay-end")
    Step.objects.filter(run_id="replay-end", position=1).delete()  # as if it stopped there
    effects = side_effects("replay-end")
    report = replay_run("replay-end")
    assert report.outcome == "end_of_history" and report.position == 1
    assert "tests.engine.workflows.note" in report.message
    assert side_effects("replay-end") == effects


def test_replay_notes_a_code_version_other_than_the_recorded_one(failed_checkout):
    Run.objects.filter(id=failed_checkout).update(version="0ld0ld0ld0ld")
    out = io.StringIO()
    call_command("durable", "replay", failed_checkout, "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["outcome"] == "failure" and report["position"] == 1
    assert "recorded with code version 0ld0ld0ld0ld" in report["version_note"]
