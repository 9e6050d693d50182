"""Superseded runs (already restarted or forked) are not copied again by mistake: the API
skips them when asked, the CLI by default, and both say how many and by which run."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

import durable
from durable import operations
from durable.errors import OperationRefused
from durable.models import AuditEntry, Run
from tests.engine.workflows import ledger


def _cli(*args: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("durable", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return out.getvalue(), err.getvalue(), int(exit_.code or 0)
    return out.getvalue(), err.getvalue(), 0


def test_a_restart_that_skips_superseded_runs_says_which_and_by_what(side_effects):
    for run_id in ("sup-a", "sup-b"):
        durable.run(ledger, run_id, ["x"], run_id=run_id)
    first = operations.restart("sup-a")
    result = operations.restart(["sup-a", "sup-b"], include_superseded=False)
    assert result.skipped == {"sup-a": first} and list(result.done) == ["sup-b"]
    assert result.skipped_count == 1
    assert Run.objects.filter(forked_from_id="sup-a").count() == 1
    entry = AuditEntry.objects.filter(action="restart").latest("id")
    assert entry.detail["skipped"] == {"sup-a": first}


def test_one_superseded_run_is_refused_naming_its_successor(side_effects):
    durable.run(ledger, "sup-one", ["x"], run_id="sup-one")
    first = operations.restart("sup-one")
    with pytest.raises(OperationRefused, match=f"already restarted or forked as run {first}"):
        operations.restart("sup-one", include_superseded=False)


def test_the_python_api_restarts_a_superseded_run_when_not_told_otherwise(side_effects):
    durable.run(ledger, "sup-api", ["x"], run_id="sup-api")
    operations.restart("sup-api")
    operations.restart("sup-api")
    assert Run.objects.filter(forked_from_id="sup-api").count() == 2


def test_cli_restart_of_an_already_restarted_run_refuses_with_a_clear_message(side_effects):
    durable.run(ledger, "sup-cli", ["x"], run_id="sup-cli")
    first = operations.restart("sup-cli")
    out, err, code = _cli("restart", "sup-cli")
    assert code == 1 and out == ""
    assert f"skipped sup-cli: superseded by {first}" in err
    assert "skipped 1 superseded run(s)" in err and "--include-superseded" in err
    assert Run.objects.filter(forked_from_id="sup-cli").count() == 1


def test_cli_restart_with_include_superseded_makes_the_second_copy(side_effects):
    durable.run(ledger, "sup-again", ["x"], run_id="sup-again")
    operations.restart("sup-again")
    out, _, code = _cli("restart", "sup-again", "--include-superseded")
    assert code == 0 and "restarted sup-again ->" in out
    assert Run.objects.filter(forked_from_id="sup-again").count() == 2


def test_cli_restart_of_several_runs_restarts_the_rest_and_counts_the_skipped(side_effects):
    for run_id in ("sup-m1", "sup-m2", "sup-m3"):
        durable.run(ledger, run_id, ["x"], run_id=run_id)
    operations.fork("sup-m1", from_step=0)
    out, err, code = _cli("restart", "sup-m1", "sup-m2", "sup-m3")
    assert code == 0
    assert "restarted sup-m2 ->" in out and "restarted sup-m3 ->" in out
    assert "skipped 1 superseded run(s)" in err
