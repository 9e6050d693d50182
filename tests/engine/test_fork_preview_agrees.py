"""A fork's preview and the fork itself agree for every combination of its options: the
steps the preview says run again are those the new run executes, and what the fork refuses
the preview refuses too."""

from __future__ import annotations

import io
import itertools

import pytest
from django.core.management import call_command

import durable
from durable import operations
from durable.debugging import preview
from durable.errors import DurableError
from durable.models import Run
from tests.engine import debug_workflows
from tests.engine.debug_workflows import PaymentDeclined

NEW_OUTPUT = {0: {"order": "o-p", "amount": 80, "currency": "EUR"}, 1: {"charged": 80}}


@pytest.fixture
def failed_checkout(side_effects) -> str:
    """Step 0 (fetch_quote) succeeded, step 1 (charge_payment) failed."""
    with pytest.raises(PaymentDeclined):
        durable.run(debug_workflows.checkout, "o-p", run_id="agree-1")
    return "agree-1"


def outcome(call):
    try:
        return call()
    except DurableError as exc:
        return type(exc)


@pytest.mark.parametrize(
    ("from_step", "patch_step"), list(itertools.product([None, 0, 1, 2], [None, 0, 1]))
)
def test_preview_and_fork_agree(failed_checkout, from_step, patch_step):
    patch = None if patch_step is None else {patch_step: NEW_OUTPUT[patch_step]}

    previewed = outcome(
        lambda: [s.position for s in preview.preview("fork", failed_checkout, from_step,
                                                     patch=patch).runs[0].steps]
    )  # fmt: skip
    forked = outcome(lambda: operations.fork(failed_checkout, from_step, patch=patch))

    if isinstance(previewed, type) or isinstance(forked, type):
        assert previewed == forked, "both refuse, with the same error"
        return
    start = Run.objects.get(id=forked).forked_from_step
    assert previewed == [position for position in (0, 1) if position >= start]


def test_the_cli_preview_of_a_patched_fork_without_from_step_starts_after_the_patch(
    failed_checkout,
):
    out = io.StringIO()
    call_command("durable", "fork", failed_checkout, "--patch-step", "0", "--output",
                 '{"amount": 80}', "--preview", stdout=out)  # fmt: skip
    text = out.getvalue()
    assert "charge_payment" in text and "fetch_quote" not in text
