"""Comparing two runs: the first step where their inputs or outputs differ."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

import durable
from durable import operations
from durable.debugging.compare import compare_runs
from tests.engine import debug_workflows
from tests.engine.debug_workflows import PaymentDeclined

CHARGE = "tests.engine.debug_workflows.charge_payment"


@pytest.fixture
def failed_and_fixed(side_effects):
    with pytest.raises(PaymentDeclined):
        durable.run(debug_workflows.checkout, "o-c", run_id="cmp-1")
    quote = {"order": "o-c", "amount": 80, "currency": "EUR"}
    fixed = operations.fork("cmp-1", from_step=1, patch={0: quote})
    durable.get(fixed).result(timeout=10)
    return "cmp-1", fixed


def test_compare_with_the_last_success_names_the_first_differing_step(failed_and_fixed):
    failed, fixed = failed_and_fixed
    comparison = compare_runs(failed)
    assert comparison.run_b == fixed and comparison.same_steps == 0
    assert comparison.difference.where == "step 0" and comparison.difference.field == "output"
    (change,) = comparison.difference.changes
    assert (change.path, change.a, change.b) == ("$.amount", 120, 80)


def test_compare_two_given_runs_from_the_command_line(failed_and_fixed):
    failed, fixed = failed_and_fixed
    out = io.StringIO()
    call_command("durable", "compare", fixed, failed, "--json", stdout=out)
    difference = json.loads(out.getvalue())["difference"]
    assert difference["changes"] == [{"path": "$.amount", "a": 80, "b": 120}]


def test_compare_without_a_success_says_to_name_the_second_run(side_effects):
    with pytest.raises(PaymentDeclined):
        durable.run(debug_workflows.checkout, "o-d", run_id="cmp-2")
    with pytest.raises(CommandError, match="no successful run to compare"):
        call_command("durable", "compare", "cmp-2", stdout=io.StringIO())


@pytest.mark.django_db
def test_compare_lists_every_differing_step_not_only_the_first():
    from datetime import timedelta

    from django.utils import timezone

    from tests.dashboard.conftest import make_run, make_step

    old = timezone.now() - timedelta(hours=1)
    other_shape = make_run(id="cmp-shape", workflow="shop.order", input={"args": ["x"]})
    same_shape = make_run(id="cmp-ok", workflow="shop.order", input={"args": [2], "kwargs": {}},
                          finished_at=old)  # fmt: skip
    failed = make_run(id="cmp-bad", workflow="shop.order", status="ERROR",
                      input={"args": [1], "kwargs": {}})  # fmt: skip
    for position in range(5):
        make_step(same_shape, position)
    make_step(failed, 0)  # equal
    make_step(failed, 1, output={"ok": "changed"})
    make_step(failed, 2)  # equal
    make_step(failed, 3, duration_ms=9000.0, input={"args": [30], "kwargs": {}})
    make_step(failed, 4, status="ERROR", output=None,
              error={"type": "shop.Declined", "message": "no"})  # fmt: skip

    comparison = compare_runs("cmp-bad")

    assert comparison.run_b == "cmp-ok", "the last success with the same input shape"
    assert other_shape.id != comparison.run_b
    assert comparison.same_steps == 2
    found = [(d.where, d.field) for d in comparison.differences]
    assert found == [
        ("run input", "input"), ("step 1", "output"), ("step 3", "input"),
        ("step 3", "duration"), ("step 4", "status"), ("step 4", "output"), ("step 4", "error"),
    ]  # fmt: skip
    text = comparison.render()
    assert (
        "7 difference(s) in 4 place(s)" in text
        and "step 3 (shop.step_3 / shop.step_3): duration" in text
    )
    assert comparison.as_json()["differences"][3]["changes"] == [
        {"path": "$", "a": 9000.0, "b": 1000.0}
    ]
