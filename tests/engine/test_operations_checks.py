"""Operator actions check what they are asked before any run is created or changed."""

from __future__ import annotations

import contextlib
import io

import pytest
from django.core.management import call_command
from django.db import connection

import durable
from durable import operations
from durable.errors import OperationRefused
from durable.models import Executor, Run
from tests.engine import workflows
from tests.engine.workflows import Boom, fails_at_third_step, ledger


def _failed_run(run_id: str) -> None:
    """Steps 0 and 1 succeed, step 2 fails and ends the run."""
    workflows.FLAKY_FAILURES[run_id] = 1
    with pytest.raises(Boom):
        durable.run(fails_at_third_step, run_id, run_id=run_id)


def _cli(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.suppress(SystemExit):  # a command refusing every run exits 1
        call_command("durable", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_fork_refuses_a_step_that_would_reuse_the_failed_checkpoint(side_effects):
    _failed_run("chk-fork")
    with pytest.raises(OperationRefused, match=r"step 2 failed.*from a step between 0 and 2"):
        operations.fork("chk-fork", from_step=3)
    _, err = _cli("fork", "chk-fork", "--from-step", "3")
    assert "refused chk-fork" in err and "between 0 and 2" in err
    assert not Run.objects.filter(forked_from_id="chk-fork").exists()
    new_id = operations.fork("chk-fork", from_step=2)  # the failed step itself runs again
    assert durable.get(new_id).result(timeout=10) == "done"


def test_restart_refuses_input_that_misses_a_parameter_of_the_workflow(side_effects):
    durable.run(ledger, "chk-sig", ["a"], run_id="chk-sig")
    with pytest.raises(OperationRefused, match="'labels'"):
        operations.restart("chk-sig", args=["chk-sig"])
    _, err = _cli("restart", "chk-sig", "--args", '["chk-sig"]')
    assert "refused chk-sig" in err and "'labels'" in err
    assert Run.objects.count() == 1


def test_fork_refuses_input_with_an_unexpected_parameter(side_effects):
    durable.run(ledger, "chk-kw", ["a"], run_id="chk-kw")
    with pytest.raises(OperationRefused, match="'colour'"):
        operations.fork("chk-kw", from_step=0, kwargs={"colour": "red"})
    _, err = _cli("fork", "chk-kw", "--from-step", "0", "--kwargs", '{"colour": "red"}')
    assert "refused chk-kw" in err and "'colour'" in err
    assert Run.objects.count() == 1


def test_resume_of_a_version_no_executor_serves_is_refused_and_offers_a_fork(side_effects):
    _failed_run("chk-old")
    Run.objects.filter(id="chk-old").update(version="0ld0ld0ld0ld")
    with pytest.raises(OperationRefused, match=r"version '0ld0ld0ld0ld'.*from step 2"):
        operations.resume("chk-old")
    _, err = _cli("resume", "chk-old")
    assert "refused chk-old" in err and "wait ENQUEUED forever" in err
    assert Run.objects.get(id="chk-old").status == "ERROR"
    step = operations.resume_blocker("chk-old")[1]
    new_id = operations.fork("chk-old", from_step=step)
    assert durable.get(new_id).result(timeout=10) == "done"


def test_resume_of_an_old_version_a_live_executor_serves_goes_ahead(side_effects):
    _failed_run("chk-served")
    Run.objects.filter(id="chk-served").update(version="0ld0ld0ld0ld")
    Executor.objects.create(
        id="worker-with-old-code", kind="thread", hostname="elsewhere", pid=1,
        workflows=["tests.fails_at_third_step@0ld0ld0ld0ld"],
    )  # fmt: skip
    lifeline = "SELECT pg_advisory_{}(hashtextextended('worker-with-old-code', 0))"
    with connection.cursor() as cursor:  # its lifeline's lock: it lives, however slow this is
        cursor.execute(lifeline.format("lock"))
    try:
        assert operations.resume("chk-served") == "chk-served"
        assert operations.resume_blocker("chk-served") is None
    finally:
        with connection.cursor() as cursor:
            cursor.execute(lifeline.format("unlock"))
