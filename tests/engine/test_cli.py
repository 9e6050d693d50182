"""`manage.py durable …` lists, shows and operates on runs from the terminal."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

import durable
from durable.models import AuditEntry, Run
from tests.engine import workflows
from tests.engine.workflows import Boom, fails_at_third_step, ledger


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command("durable", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_list_and_show_print_runs_and_their_steps(side_effects):
    durable.run(ledger, "cli-1", ["a", "b"], run_id="cli-1")
    assert "cli-1" in _call("list") and "SUCCESS" in _call("list", "--status", "SUCCESS")
    shown = _call("show", "cli-1")
    assert "tests.ledger" in shown and "tests.engine.workflows.note" in shown
    assert shown.count("SUCCESS") >= 3


def test_show_of_an_unknown_run_is_a_clear_error(transactional_db):
    with pytest.raises(CommandError, match="no run with id"):
        _call("show", "missing")


def test_resume_fork_and_restart_from_the_command_line(side_effects):
    workflows.FLAKY_FAILURES["cli-2"] = 1
    with pytest.raises(Boom):
        durable.run(fails_at_third_step, "cli-2", run_id="cli-2")
    assert "forked cli-2 ->" in _call("fork", "cli-2", "--from-step", "1", "--actor", "bob")
    assert "resumed cli-2" in _call("resume", "cli-2")
    assert durable.get("cli-2").result(timeout=10) == "done"
    # forked already, so superseded: a second copy only when asked for
    assert "restarted cli-2 ->" in _call("restart", "cli-2", "--include-superseded")
    assert AuditEntry.objects.filter(actor="bob", action="fork").exists()
    assert Run.objects.filter(forked_from_id="cli-2").count() == 2


def test_edited_input_must_be_json(side_effects):
    durable.run(ledger, "cli-3", ["a"], run_id="cli-3")
    with pytest.raises(CommandError, match="--args is not valid JSON"):
        _call("restart", "cli-3", "--args", "[oops")


def test_cancel_on_the_command_line_says_which_stops_are_not_confirmed(transactional_db):
    from django.utils import timezone

    Run.objects.create(
        id="cli-orphan", workflow="tests.ledger", status="RUNNING", input={"args": []},
        executor_id="thread:gone:1:dead", started_at=timezone.now(),
    )  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    call_command("durable", "cancel", "cli-orphan", stdout=out, stderr=err)
    assert "cancelled cli-orphan" in out.getvalue()
    assert "not confirmed cli-orphan" in err.getvalue() and "thread:gone:1:dead" in err.getvalue()
