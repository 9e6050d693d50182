"""`manage.py durable schedules …`: cron schedules managed from the terminal."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

import durable
from durable.models import AuditEntry, Run, Schedule
from durable.schedules import _declared as declared_schedules
from tests.engine.test_dynamic_schedules import report  # noqa: F401 - registers the workflow


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command("durable", "schedules", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def quiet(monkeypatch, settings, transactional_db):
    monkeypatch.setattr(declared_schedules, "_schedules", {})
    settings.DURABLE_EXECUTOR = "external"


def test_create_list_pause_and_resume_from_the_terminal(quiet):
    created = _call("create", "emea", "--workflow", "tests.dyn.report", "--cron", "0 3 * * *",
                    "--args", '["emea"]', "--kwargs", '{"fmt": "csv"}',
                    "--actor", "ops")  # fmt: skip
    assert "created emea: 0 3 * * *, next tick" in created
    listed = _call("list")
    assert listed.splitlines()[0].split()[:5] == ["NAME", "WORKFLOW", "CRON", "SOURCE", "STATE"]
    assert "tests.dyn.report" in listed and "active" in listed and "api" in listed
    assert "paused emea: paused (0 3 * * *)" in _call("pause", "emea", "--reason", "INC-1")
    assert json.loads(_call("list", "--json"))[0]["paused"] is True
    assert "resumed emea" in _call("resume", "emea")
    assert [e.action for e in AuditEntry.objects.order_by("id")] == [
        "schedule.create", "schedule.pause", "schedule.resume"]  # fmt: skip
    assert AuditEntry.objects.order_by("id").first().actor == "ops"


def test_update_trigger_backfill_and_delete_from_the_terminal(quiet):
    _call("create", "emea", "--workflow", "tests.dyn.report", "--cron", "0 3 * * *",
          "--args", '["emea"]')  # fmt: skip
    assert "updated emea: 0 4 * * *" in _call("update", "emea", "--cron", "0 4 * * *")
    assert Schedule.objects.get().input == {"args": ["emea"], "kwargs": {}}
    assert "triggered emea: run emea@manual-" in _call("trigger", "emea")
    out = _call("backfill", "emea", "--start", "2026-01-01", "--end", "2026-01-03")
    assert "started 2 run(s)" in out and "emea@20260101T040000Z" in out
    again = _call("backfill", "emea", "--start", "2026-01-01", "--end", "2026-01-03")
    assert "started 0 run(s)" in again and "2 tick(s) already had a run" in again
    assert Run.objects.count() == 3
    assert "deleted emea" in _call("delete", "emea")
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "x", "--workflow", "tests.dyn.report", "--cron", "nope"), "invalid cron"),
        (("create", "x", "--workflow", "no.such", "--cron", "* * * * *"), "no workflow named"),
        (("create", "x", "--workflow", "tests.dyn.report", "--cron", "* * * * *",
          "--args", "[1"), "--args is not valid JSON"),
        (("pause", "missing"), "no schedule named 'missing'"),
    ],
)  # fmt: skip
def test_mistakes_are_clear_errors(quiet, args, message):
    with pytest.raises(CommandError, match=message):
        _call(*args)
    assert not Schedule.objects.exists()


def test_a_code_schedule_refuses_an_update_with_what_to_do(quiet):
    durable.scheduled("0 3 * * *", name="tests.cli.nightly")(report.__wrapped__)
    Schedule.objects.create(name="tests.cli.nightly", workflow="tests.cli.nightly",
                            cron="0 3 * * *")  # fmt: skip
    with pytest.raises(CommandError, match="declared in code"):
        _call("update", "tests.cli.nightly", "--cron", "0 4 * * *")
    assert "paused tests.cli.nightly" in _call("pause", "tests.cli.nightly")
