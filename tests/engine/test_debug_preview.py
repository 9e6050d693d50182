"""Replay previews: which recorded steps a resume, restart or fork runs again."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

import durable
from durable.debugging.preview import preview
from durable.models import Run, Step
from tests.engine import debug_workflows, workflows
from tests.engine.debug_workflows import PaymentDeclined

QUOTE = "tests.engine.debug_workflows.fetch_quote"
CHARGE = "tests.engine.debug_workflows.charge_payment"


def _failed(*order_ids: str) -> list[str]:
    for order_id in order_ids:
        with pytest.raises(PaymentDeclined):
            durable.run(debug_workflows.checkout, order_id, run_id=f"pv-{order_id}")
    return [f"pv-{order_id}" for order_id in order_ids]


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command("durable", *args, stdout=out)
    return out.getvalue()


def test_resume_preview_lists_the_failed_step_as_repeating_side_effects(side_effects):
    (run_id,) = _failed("a")
    (run,) = preview("resume", run_id).runs
    assert [(step.name, step.flagged) for step in run.steps] == [(CHARGE, True)]


def test_restart_preview_does_not_flag_idempotent_steps(side_effects):
    (run_id,) = _failed("a")
    (run,) = preview("restart", run_id).runs
    assert [(step.name, step.flagged, step.why) for step in run.steps] == [
        (QUOTE, False, "declared idempotent"),
        (CHARGE, True, "it is not idempotent"),
    ]


def test_fork_preview_starts_at_the_fork_point(side_effects):
    (run_id,) = _failed("a")
    assert [s.position for s in preview("fork", run_id, from_step=1).runs[0].steps] == [1]


def test_bulk_preview_aggregates_by_step(side_effects):
    run_ids = _failed("a", "b", "c")
    assert preview("restart", run_ids).lines() == [
        f"3 runs will run {CHARGE} again; it is not idempotent",
        f"3 runs will run {QUOTE} again; declared idempotent",
    ]


def test_preview_flag_on_an_action_changes_nothing(side_effects):
    run_ids = _failed("a", "b")
    text = _call("resume", *run_ids, "--preview")
    assert f"2 runs will run {CHARGE} again; it is not idempotent" in text
    assert set(Run.objects.values_list("status", flat=True)) == {"ERROR"}
    summary = json.loads(_call("preview", "restart", *run_ids, "--json"))["summary"]
    assert {entry["step"]: entry["runs"] for entry in summary} == {CHARGE: 2, QUOTE: 2}


def test_resume_preview_of_a_dead_run_warns_about_the_step_in_flight(side_effects):
    durable.run(workflows.ledger, "pv-dead", ["a", "b"], run_id="pv-dead")
    Step.objects.filter(run_id="pv-dead", position=1).delete()  # its executor died in step 1
    Run.objects.filter(id="pv-dead").update(status="DEAD")
    (run,) = preview("resume", "pv-dead").runs
    assert [(step.position, step.name, step.flagged) for step in run.steps] == [
        (1, "the step in flight when the run stopped", True)
    ]


def test_a_sampled_preview_scales_its_counts_to_the_selection_and_says_about(side_effects):
    run_ids = _failed("a", "b", "c", "d")
    assert preview("restart", run_ids[::2]).lines(population=4) == [
        f"about 4 runs will run {CHARGE} again; it is not idempotent",
        f"about 4 runs will run {QUOTE} again; declared idempotent",
        "(from an even sample of 2 of 4 runs: a step that few runs repeat may not show)",
    ]
    assert preview("restart", run_ids).lines(population=4)[0].startswith("4 runs will run")
