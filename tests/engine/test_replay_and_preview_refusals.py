"""Replay stops at the recorded failure even when it came through a child run or from a
step under asyncio.gather that was not the last one called; a preview says when the action
would be refused (a run that does not exist, a fork past the failed step, a resume of a run
that succeeded) instead of "no recorded step runs again"."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import durable
from durable import operations
from durable.debugging.replay import replay_run
from durable.errors import OperationRefused
from tests.engine import replay_refusal_workflows as w


@pytest.fixture
def failed(transactional_db):
    with pytest.raises(w.Boom):
        durable.run(w.flow, 1, run_id="refusals-flow-1")
    return "refusals-flow-1"


def test_fork_preview_says_when_the_fork_would_be_refused(failed):
    """docs/debugging.md: the preview shows what repeats before a fork; a fork from step 9 is
    refused (step 2 failed and ended the run) — the preview must not say "nothing repeats"
    and exit 0 as if the fork would go ahead."""
    with pytest.raises(OperationRefused):
        operations.fork(failed, from_step=9)
    out = io.StringIO()
    try:
        call_command("durable", "fork", failed, "--from-step", "9", "--preview", stdout=out)
    except (CommandError, SystemExit):
        return  # refused with an error: fine
    assert "refused" in out.getvalue() or "fork from a step between" in out.getvalue(), (
        out.getvalue()
    )


def test_preview_of_a_run_that_does_not_exist_is_an_error(transactional_db):
    """Every other debugging command answers an unknown id with "no run with id …" and a
    non-zero exit; `durable preview resume nope` says "no recorded step runs again" (exit 0)."""
    out = io.StringIO()
    with pytest.raises((CommandError, SystemExit)):
        call_command("durable", "preview", "resume", "no-such-run", stdout=out)


def test_replay_of_a_parent_whose_child_failed_names_the_child_not_code_outside_steps(
    transactional_db,
):
    """README/docs/debugging.md: replay stops "at the recorded failure", naming the step.
    A parent whose child run failed reports "the workflow code raised outside any step",
    which is false: it raised from the child entry at position 1."""
    with pytest.raises(w.Boom):
        durable.run(w.parent, 1, run_id="refusals-parent-1")
    report = replay_run("refusals-parent-1")
    assert report.outcome != "code_error", report.render()
    assert report.position == 1 and report.step_name == "tests.replay_refusals.child", (
        report.render()
    )


def test_replay_of_a_gather_whose_first_step_failed_stops_at_that_failure(transactional_db):
    """docs/async.md: `durable replay` runs async workflows too; docs/debugging.md: it stops
    at the recorded failure, naming the step, its input and its error. Under
    `asyncio.gather(failing(), ok())` the failing step is at position 0; the replay blames
    "code outside any step, after step 1" instead."""
    with pytest.raises(w.Boom):
        durable.run(w.gather_fail_first, 3, run_id="refusals-gather-1")
    report = replay_run("refusals-gather-1")
    assert report.outcome == "failure", report.render()
    assert report.position == 0 and report.step_name.endswith("f_async"), report.render()


def test_resume_preview_of_a_run_resume_refuses_says_so(transactional_db):
    """`durable resume X` refuses a run that succeeded ("restart it to run it again");
    `durable resume X --preview` answers "no recorded step runs again" with exit 0, as if
    the resume would go ahead."""
    durable.run(w.ok, 1, run_id="refusals-rok")
    out = io.StringIO()
    try:
        call_command("durable", "resume", "refusals-rok", "--preview", stdout=out)
    except (CommandError, SystemExit):
        return
    assert "refused" in out.getvalue() or "succeeded" in out.getvalue(), out.getvalue()


def test_a_failure_the_code_caught_is_not_blamed_for_its_own_later_error(transactional_db):
    """The step that failed was handled; the run ended on the code's error after step 1."""
    with pytest.raises(ValueError):
        durable.run(w.caught_then_raises, 1, run_id="refusals-caught")
    report = replay_run("refusals-caught")
    assert report.outcome == "code_error", report.render()
