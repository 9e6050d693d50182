"""`durable list` and `durable show` for scripts: --json, filters, messages, pipes."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

import durable
from durable.models import Run
from tests.engine import debug_workflows, workflows
from tests.engine.debug_workflows import PaymentDeclined
from tests.engine.processes import PROJECT_DIR, database_url_for_tests


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command("durable", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _process(*args: str, **options) -> subprocess.Popen:
    # DEBUG=1: the development configuration the tests run (production needs SECRET_KEY)
    environment = {"DATABASE_URL": database_url_for_tests(), "PATH": "/usr/bin:/bin", "DEBUG": "1"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "durable", *args],
        cwd=PROJECT_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


@pytest.fixture
def runs(side_effects):
    durable.run(workflows.sum_three, 1, 2, 3, run_id="scr-ok", tags={"customer": "acme"})
    with pytest.raises(PaymentDeclined):
        durable.run(debug_workflows.checkout, "o-s", "x" * 200_000, run_id="scr-failed")
    return "scr-ok", "scr-failed"


def test_list_json_with_a_lowercase_status(runs):
    listed = json.loads(_call("list", "--status", "error", "--json"))
    assert [run["id"] for run in listed] == ["scr-failed"]
    assert listed[0]["error_type"] == "tests.engine.debug_workflows.PaymentDeclined"


def test_list_filters_by_tag_error_type_and_time(runs):
    assert [r["id"] for r in json.loads(_call("list", "--tag", "customer=acme", "--json"))] == [
        "scr-ok"
    ]
    by_error = json.loads(_call("list", "--error-type", "PaymentDeclined", "--json"))
    assert [run["id"] for run in by_error] == ["scr-failed"]
    assert len(json.loads(_call("list", "--since", "1h", "--json"))) == 2
    assert json.loads(_call("list", "--until", "1h", "--json")) == []


def test_show_prints_timestamps_tags_and_the_full_input(runs):
    shown = _call("show", "scr-ok")
    assert "created" in shown and "finished" in shown and '{"customer": "acme"}' in shown
    assert "x" * 200_000 in _call("show", "scr-failed")
    document = json.loads(_call("show", "scr-failed", "--json"))
    assert document["run"]["id"] == "scr-failed" and len(document["steps"]) == 2


def test_bad_options_are_messages_not_tracebacks(runs):
    with pytest.raises(CommandError, match="must be 1 or more"):
        _call("list", "--limit", "-5")
    with pytest.raises(CommandError, match="unknown status 'broken'"):
        _call("list", "--status", "broken")
    process = _process("list", "--limit", "-5")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "must be 1 or more" in stderr
    assert "Traceback" not in stderr


def test_show_piped_into_head_ends_quietly(runs):
    process = _process("show", "scr-failed")
    process.stdout.readline()
    process.stdout.close()  # `| head -1`: the reader goes away
    stderr = process.stderr.read()
    process.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_show_prints_the_cancel_reason_and_recoveries(runs):
    Run.objects.filter(id="scr-ok").update(cancel_reason="stopped by bob", recovery_count=2)
    shown = _call("show", "scr-ok")
    assert "cancelled stopped by bob" in shown and "recovered 2 time(s)" in shown
