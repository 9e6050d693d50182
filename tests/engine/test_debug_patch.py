"""Patched forks: fork a failed run with an earlier step's recorded output replaced."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

import durable
from durable import operations
from durable.errors import (
    InvalidArgumentError,
    InvalidPatchError,
    OperationRefused,
    PayloadTooLargeError,
    SerializationError,
)
from durable.models import AuditEntry, Run, Step
from tests.engine import debug_workflows
from tests.engine.debug_workflows import PaymentDeclined

SMALL_QUOTE = {"order": "o-p", "amount": 80, "currency": "EUR"}


@pytest.fixture
def failed(side_effects):
    with pytest.raises(PaymentDeclined):
        durable.run(debug_workflows.checkout, "o-p", run_id="patch-1")
    return "patch-1"


def test_fork_with_a_patched_output_continues_from_the_edited_value(failed, side_effects):
    fork_id = operations.fork(failed, from_step=1, patch={0: SMALL_QUOTE}, actor="alice")
    assert durable.get(fork_id).result(timeout=10) == "receipt-o-p"
    step = Step.objects.get(run_id=fork_id, position=0)
    assert step.patched and step.output == SMALL_QUOTE
    assert Step.objects.get(run_id=fork_id, position=1).output == {"charged": 80}
    assert side_effects("o-p")["fetch_quote"] == 1  # the patched step was not run again


def test_patching_the_failed_step_itself_makes_it_a_success(failed):
    fork_id = operations.fork(failed, patch={1: {"charged": 120}})
    assert durable.get(fork_id).result(timeout=10) == "receipt-o-p"
    step = Step.objects.get(run_id=fork_id, position=1)
    assert step.status == "SUCCESS" and step.patched and step.error is None


def test_patched_fork_is_audited_with_the_old_and_the_new_value(failed):
    operations.fork(failed, from_step=1, patch={0: SMALL_QUOTE}, actor="alice")
    entry = AuditEntry.objects.get(action="fork", actor="alice")
    change = entry.detail["patch"][failed]["0"]
    assert change["old"] == {"order": "o-p", "amount": 120, "currency": "EUR"}
    assert change["new"] == SMALL_QUOTE


def test_a_patch_at_or_after_the_fork_point_is_a_bad_argument(failed):
    with pytest.raises(InvalidPatchError, match="not before the fork point") as refused:
        operations.fork(failed, from_step=1, patch={1: {}})
    assert isinstance(refused.value, InvalidArgumentError) and refused.value.argument == "patch"


def test_a_patched_output_that_cannot_be_stored_is_a_bad_patch_and_a_serialization_error(
    failed,
):
    """Code that catches the SerializationError every unstorable value raises keeps working."""
    with pytest.raises(InvalidPatchError, match="patched output of step 0") as refused:
        operations.fork(failed, from_step=1, patch={0: {"at": object()}})
    assert isinstance(refused.value, SerializationError)
    assert refused.value.argument == "patch" and refused.value.arguments == ("patch",)
    assert not Run.objects.filter(forked_from_id="patch-1").exists()


def test_a_patched_output_over_the_payload_limit_is_still_a_payload_too_large_error(
    failed, settings
):
    settings.DURABLE_MAX_PAYLOAD_BYTES = 100
    with pytest.raises(PayloadTooLargeError) as refused:
        operations.fork(failed, from_step=1, patch={0: {"note": "x" * 200}})
    assert isinstance(refused.value, InvalidPatchError) and refused.value.argument == "patch"


def test_a_step_patched_twice_is_a_bad_argument(failed):
    with pytest.raises(InvalidPatchError, match="step 0 is patched twice"):
        operations.fork(failed, from_step=1, patch={0: {}, "0": {}})


def test_a_patch_of_a_step_the_run_never_recorded_is_refused_for_the_run(failed):
    """What the patch names is fine in itself; this run's history has no such step."""
    with pytest.raises(OperationRefused, match="run patch-1: it has no recorded step 2"):
        operations.fork(failed, from_step=3, patch={2: {}})


def test_fork_with_a_patch_from_the_command_line(failed):
    out = io.StringIO()
    call_command(
        "durable", "fork", failed, "--from-step", "1", "--patch-step", "0",
        "--output", '{"order": "o-p", "amount": 80, "currency": "EUR"}', stdout=out,
    )  # fmt: skip
    fork_id = out.getvalue().split("-> ")[1].strip()
    assert durable.get(fork_id).result(timeout=10) == "receipt-o-p"
    shown = io.StringIO()
    call_command("durable", "show", fork_id, stdout=shown)
    assert "patched   step(s) 0: output edited when forking" in shown.getvalue()
    with pytest.raises(CommandError, match="--output is not valid JSON"):
        call_command("durable", "fork", failed, "--patch-step", "0", "--output", "{oops")


def test_step_numbers_given_as_text_patch_as_numbers_do(failed):
    """JSON and forms give step numbers as text: {"1": …} is the same patch as {1: …}."""
    fork_id = operations.fork(failed, patch={"1": {"charged": 120}})
    assert durable.get(fork_id).result(timeout=10) == "receipt-o-p"
    step = Step.objects.get(run_id=fork_id, position=1)
    assert step.status == "SUCCESS" and step.patched


@pytest.mark.parametrize("key", ["one", "1.0", " 1", "-1", 1.0, True, None, "١"])
def test_a_patch_key_that_is_not_a_step_number_is_refused_clearly(failed, key):
    with pytest.raises(InvalidPatchError, match="^patch: patch keys are step numbers"):
        operations.fork(failed, patch={key: {"charged": 120}})
