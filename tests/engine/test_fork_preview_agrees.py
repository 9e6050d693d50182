"""A fork's preview and the fork itself agree for every combination of its options: the
steps the preview says run again are those the new run executes, and what the fork refuses
the preview refuses too."""

from __future__ import annotations

import io
import itertools

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import durable
from durable import operations
from durable.debugging import preview
from durable.errors import DurableError
from durable.models import Run, RunStatus, Step
from tests.engine import debug_workflows
from tests.engine.debug_workflows import PaymentDeclined
from tests.engine.processes import wait_for
from tests.tiers import examples

FINISHED = (RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.CANCELLED, RunStatus.DEAD)
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


# the options a fork takes that change what it runs: where it starts, and edited outputs
# (valid, refused and oddly typed keys alike); an edited step 0 may make the charge succeed
FROM_STEPS = st.sampled_from([None, -1, 0, 1, 2, 3])
EDITS = st.dictionaries(
    st.sampled_from([0, 1, "1", 2, "x"]),
    st.sampled_from([
        {"order": "o-p", "amount": 80, "currency": "EUR"},
        {"order": "o-p", "amount": 120, "currency": "EUR"},
        {"charged": 80},
    ]),
    max_size=3,
)  # fmt: skip
SIDE_EFFECT_POSITION = {"fetch_quote": 0, "charge_payment": 1}  # save_receipt never ran


@settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))
@given(from_step=FROM_STEPS, patch=EDITS)
@example(from_step=None, patch={0: {"charged": 80}})  # the workflow cannot read that quote
def test_the_preview_names_exactly_the_recorded_steps_the_fork_runs_again(
    failed_checkout, side_effects, from_step, patch
):
    """Checked against what ran, not against the fork's bookkeeping: the side effects each
    recorded step leaves when its body runs again are counted during the fork. A previewed
    step the fork never reached is one its workflow failed before (an edited output the
    code cannot read): the preview names what will run again if reached, not the code's fate."""
    previewed = outcome(
        lambda: {s.position for s in preview.preview("fork", failed_checkout, from_step,
                                                     patch=patch or None).runs[0].steps}
    )  # fmt: skip
    before = side_effects("o-p")
    forked = outcome(lambda: operations.fork(failed_checkout, from_step, patch=patch or None))

    if isinstance(previewed, type) or isinstance(forked, type):
        assert previewed == forked, "both refuse, with the same error"
        return
    wait_for(lambda: Run.objects.get(id=forked).status in FINISHED, 20, f"fork {forked}")
    after = side_effects("o-p")
    ran_again = {
        SIDE_EFFECT_POSITION[label]
        for label in SIDE_EFFECT_POSITION
        if after.get(label, 0) > before.get(label, 0)
    }
    assert ran_again <= previewed
    never_reached = previewed - ran_again
    if never_reached:  # the workflow itself failed first (an edit it cannot read, say)
        fork = Run.objects.get(id=forked)
        assert fork.status == RunStatus.ERROR
        assert not Step.objects.filter(run_id=forked, position__in=never_reached).exists()
