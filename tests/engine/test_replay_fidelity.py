"""Replay fidelity: a replay sees exactly what the first run saw, or fails loudly.

Each workflow here stops once with `Boom` after its first run, so resuming it replays the
recorded history; module dicts note what the code saw on each pass.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from typing import Any

import pytest
from django.db import DataError, connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import durable
from durable import operations
from durable.core import _runtime as runtime
from durable.core import store
from durable.core._context import RunInterrupted
from durable.errors import NonDeterminismError, SerializationError
from durable.models import Attempt, Event, Message, Run, Step
from tests.engine.workflows import Boom, sum_three
from tests.tiers import examples

VALUES: dict[str, list[Any]] = {}
SEEN: dict[str, list[Any]] = {}
PASSES: dict[str, int] = {}


def first_pass(key: str) -> bool:
    """True the first time the workflow code of `key` gets here (the first run)."""
    PASSES[key] = PASSES.get(key, 0) + 1
    return PASSES[key] == 1


def shape(value: Any) -> tuple[str, Any]:
    """The JSON text (key order kept) and the types, recursively: equal means identical."""

    def types(item: Any) -> Any:
        if isinstance(item, dict):
            return ("dict", [(key, types(val)) for key, val in item.items()])
        if isinstance(item, list):
            return ("list", [types(val) for val in item])
        return type(item).__name__

    return json.dumps(value), types(value)


@durable.step(name="fidelity.produce")
def produce(key: str, index: int) -> Any:
    return VALUES[key][index]


@durable.workflow(name="tests.fidelity.echo")
def echo(key: str, count: int) -> list:
    values = [produce(key, index) for index in range(count)]
    SEEN.setdefault(key, []).append([shape(value) for value in values])
    if first_pass(key):
        raise Boom("the first run stops here")
    return values


def first_run_and_replay(values: list[Any]) -> tuple[list, list, list]:
    """(what steps returned on the first run, on the replay, and the workflow's output)."""
    key = uuid.uuid4().hex
    VALUES[key] = values
    handle = durable.start(echo, key, len(values), run_id=key)
    with pytest.raises(Boom):
        handle.result(timeout=20)
    operations.resume(key)
    output = handle.result(timeout=20)
    first, replayed = SEEN.pop(key)
    return first, replayed, [shape(value) for value in output]


def test_a_replayed_step_returns_exactly_what_the_first_run_returned(transactional_db):
    value = {"zebra": 1, "apple": {"b": 1e16, "a": [1.0, 2, None]}, "mid": 0.5, "é": True}
    first, replayed, output = first_run_and_replay([value])
    assert first == replayed == output == [shape(value)]


texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
numbers = (
    st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e16, 1e-7, 1.0, -0.0, 2**64, 1.5e300])
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=examples(20),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(json_values, min_size=1, max_size=6))
def test_first_run_and_replay_return_identical_values_for_arbitrary_json(transactional_db, values):
    first, replayed, output = first_run_and_replay(values)
    assert first == [shape(value) for value in values]
    assert replayed == first
    assert output == first


AMOUNTS: dict[str, int] = {}


@durable.step(name="fidelity.charge")
def charge(order_id: str, amount: int) -> str:
    return f"charged {amount}"


@durable.workflow(name="tests.fidelity.checkout")
def checkout(order_id: str) -> str:
    receipt = charge(order_id, AMOUNTS[order_id])
    if first_pass(order_id):
        raise Boom("the first run stops here")
    return receipt


def test_a_replay_whose_step_input_differs_fails_with_a_non_determinism_error_showing_both(
    transactional_db,
):
    AMOUNTS["nd-1"] = 1010
    handle = durable.start(checkout, "nd-1", run_id="nd-1")
    with pytest.raises(Boom):
        handle.result(timeout=10)
    AMOUNTS["nd-1"] = 2020  # the code now passes another amount at step 0
    operations.resume("nd-1")
    with pytest.raises(NonDeterminismError) as raised:
        handle.result(timeout=10)
    message = str(raised.value)
    assert "nd-1" in message and "step 0" in message and "fidelity.charge" in message
    assert "1010" in message and "2020" in message
    assert Run.objects.get(id="nd-1").error_type == "durable.errors.NonDeterminismError"


EVENT_KEYS: dict[str, str] = {}


@durable.workflow(name="tests.fidelity.publishes")
def publishes(run_id: str) -> str:
    durable.set_event(EVENT_KEYS[run_id], 1)
    if first_pass(run_id):
        raise Boom("the first run stops here")
    return "published"


def test_a_replay_whose_primitive_input_differs_fails_with_a_non_determinism_error(
    transactional_db,
):
    EVENT_KEYS["nd-2"] = "progress"
    handle = durable.start(publishes, "nd-2", run_id="nd-2")
    with pytest.raises(Boom):
        handle.result(timeout=10)
    EVENT_KEYS["nd-2"] = "stage"
    operations.resume("nd-2")
    with pytest.raises(NonDeterminismError) as raised:
        handle.result(timeout=10)
    message = str(raised.value)
    assert "durable.set_event" in message and "progress" in message and "stage" in message


@durable.step(name="fidelity.returns_nul")
def returns_nul() -> str:
    return "a\x00b"


@durable.workflow(name="tests.fidelity.nul_output")
def nul_output() -> str:
    return returns_nul()


def test_a_nul_in_a_step_output_is_a_serialization_error_naming_workflow_and_step(
    transactional_db,
):
    handle = durable.start(nul_output, run_id="nul-1")
    with pytest.raises(SerializationError) as raised:
        handle.result(timeout=10)
    message = str(raised.value)
    assert "tests.fidelity.nul_output" in message and "fidelity.returns_nul" in message
    assert "NUL" in message
    assert not Step.objects.filter(run_id="nul-1").exists()


@durable.step(name="fidelity.takes")
def takes(text: str) -> int:
    return len(text)


@durable.workflow(name="tests.fidelity.nul_input")
def nul_input() -> int:
    return takes("a\x00b")


def test_a_nul_in_a_step_input_is_a_serialization_error_and_nothing_is_written(
    transactional_db,
):
    handle = durable.start(nul_input, run_id="nul-2")
    with pytest.raises(SerializationError) as raised:
        handle.result(timeout=10)
    assert "tests.fidelity.nul_input" in str(raised.value)
    assert "fidelity.takes" in str(raised.value)
    assert not Step.objects.filter(run_id="nul-2").exists()


def test_a_lone_surrogate_in_a_run_input_is_refused_at_start(transactional_db):
    with pytest.raises(SerializationError, match="tests.sum_three.*surrogate"):
        durable.start(sum_three, "\ud800", 1, 2, run_id="sur-1")
    assert not Run.objects.filter(id="sur-1").exists()


@durable.workflow(name="tests.fidelity.nul_event")
def nul_event() -> None:
    durable.set_event("progress", "50\x00%")


def test_a_nul_in_a_message_or_an_event_is_refused_at_the_call(transactional_db):
    assert durable.run(sum_three, 1, 2, 3, run_id="msg-1") == 6
    for bad in ("a\x00b", "a\udc80b"):
        with pytest.raises(SerializationError, match="message to run msg-1"):
            durable.send("msg-1", {"text": bad})
    assert not Message.objects.exists()
    with pytest.raises(SerializationError, match="tests.fidelity.nul_event.*progress"):
        durable.run(nul_event, run_id="nul-3")
    assert not Event.objects.filter(run_id="nul-3").exists()


@durable.step(name="fidelity.raises_nul")
def raises_nul() -> None:
    raise Boom("bad byte \x00 and \ud800 here")


@durable.workflow(name="tests.fidelity.nul_error")
def nul_error() -> None:
    raises_nul()


def test_an_exception_message_with_a_nul_is_recorded_escaped(transactional_db):
    handle = durable.start(nul_error, run_id="nul-4")
    with pytest.raises(Boom):
        handle.result(timeout=10)
    step = Step.objects.get(run_id="nul-4", position=0)
    assert step.status == "ERROR"
    assert step.error["message"] == "bad byte \\x00 and \\ud800 here"
    assert Run.objects.get(id="nul-4").status == "ERROR"


BODY_RUNS: dict[str, int] = {}


@durable.transaction(name="fidelity.swallows_db_error", retries=1, retry_delay=0.01)
def swallows_db_error(run_id: str) -> str:
    BODY_RUNS[run_id] = BODY_RUNS.get(run_id, 0) + 1
    # caught without a savepoint: the transaction is now broken
    with connection.cursor() as cursor, contextlib.suppress(DataError):
        cursor.execute("SELECT 1 / 0")
    return "looks fine"


@durable.workflow(name="tests.fidelity.broken_transaction")
def broken_transaction(run_id: str) -> str:
    return swallows_db_error(run_id)


def test_a_caught_database_error_in_a_transaction_step_is_the_steps_failure_and_retried(
    transactional_db,
):
    handle = durable.start(broken_transaction, "txn-1", run_id="txn-1")
    with pytest.raises(Exception) as raised:
        handle.result(timeout=10)
    assert type(raised.value).__name__ == "BrokenTransactionError"
    assert "fidelity.swallows_db_error" in str(raised.value)
    step = Step.objects.get(run_id="txn-1", position=0)
    assert (step.status, step.attempts) == ("ERROR", 2)
    assert BODY_RUNS["txn-1"] == 2  # retried once, then the run failed: never recovery
    assert Run.objects.get(id="txn-1").recovery_count == 0


class PaymentDeclined(Exception):
    def __init__(self, order_id: str, amount: float, *, reason: str) -> None:
        super().__init__(f"order {order_id}: {amount} declined ({reason})")
        self.order_id = order_id
        self.amount = amount
        self.reason = reason


@durable.step(name="fidelity.pay")
def pay(order_id: str) -> None:
    raise PaymentDeclined(order_id, 9.5, reason="card expired")


@durable.workflow(name="tests.fidelity.handles_decline")
def handles_decline(order_id: str) -> str:
    try:
        pay(order_id)
        outcome = "paid"
    except PaymentDeclined as declined:
        outcome = f"handled: {declined.reason}"
    if first_pass(order_id):
        raise Boom("the first run stops here")
    return outcome


@durable.workflow(name="tests.fidelity.lets_decline_through")
def lets_decline_through(order_id: str) -> None:
    pay(order_id)


def test_an_exception_with_its_own_init_is_rebuilt_as_its_class_on_replay_and_on_result(
    transactional_db,
):
    handle = durable.start(handles_decline, "pay-1", run_id="pay-1")
    with pytest.raises(Boom):
        handle.result(timeout=10)
    operations.resume("pay-1")
    assert handle.result(timeout=10) == "handled: card expired"
    with pytest.raises(PaymentDeclined) as raised:
        durable.run(lets_decline_through, "pay-2", run_id="pay-2")
    assert (raised.value.order_id, raised.value.amount) == ("pay-2", 9.5)
    assert raised.value.reason == "card expired"
    assert str(raised.value) == "order pay-2: 9.5 declined (card expired)"


FAILURES_LEFT: dict[str, int] = {}


@durable.step(name="fidelity.flaky", retries=2, retry_delay=0.01)
def flaky(run_id: str) -> str:
    if FAILURES_LEFT[run_id] > 0:
        FAILURES_LEFT[run_id] -= 1
        raise ConnectionError("still down")
    return "up"


@durable.workflow(name="tests.fidelity.retries")
def retries(run_id: str) -> str:
    return flaky(run_id)


def test_attempt_numbers_go_on_after_a_resume_which_grants_a_fresh_retry_budget(
    transactional_db,
):
    FAILURES_LEFT["att-1"] = 4  # 3 attempts fail (retries=2), then 1 more after the resume
    handle = durable.start(retries, "att-1", run_id="att-1")
    with pytest.raises(ConnectionError):
        handle.result(timeout=10)
    operations.resume("att-1")
    assert handle.result(timeout=10) == "up"
    step = Step.objects.get(run_id="att-1", position=0)
    assert (step.status, step.attempts) == ("SUCCESS", 5)
    numbers = list(
        Attempt.objects.filter(run_id="att-1").order_by("id").values_list("attempt", flat=True)
    )
    assert numbers == [1, 2, 3, 4]


class ExecutorDied(RunInterrupted):
    """Stands for the executor's death mid-attempt: nothing is recorded, the lease stays
    (a plain BaseException from a step would fail or release the run at once)."""


CRASH_AT: dict[str, int] = {}
CALLS: dict[str, int] = {}


@durable.step(name="fidelity.dies_once", retries=3, retry_delay=0.01)
def dies_once(run_id: str) -> str:
    CALLS[run_id] = CALLS.get(run_id, 0) + 1
    if CALLS[run_id] == CRASH_AT.get(run_id):
        del CRASH_AT[run_id]
        raise ExecutorDied(run_id)
    raise ConnectionError(f"call {CALLS[run_id]} failed")


@durable.workflow(name="tests.fidelity.recovered_retries")
def recovered_retries(run_id: str) -> str:
    return dies_once(run_id)


def test_attempt_numbers_and_the_retry_budget_go_on_after_a_recovery(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"  # this test executes the run itself
    CRASH_AT["att-2"] = 3
    durable.start(recovered_retries, "att-2", run_id="att-2")
    workflows = ["tests.fidelity.recovered_retries"]
    # attempts 1 and 2 failed, the executor died in 3
    runtime.execute_run("att-2", "executor-a", workflows, threading.Event())
    assert Run.objects.get(id="att-2").status == "RUNNING"  # its lease is left to expire
    Run.objects.filter(id="att-2").update(lease_expires_at="2000-01-01T00:00:00Z")
    assert store.recover_orphaned(max_recoveries=3, silence=3, grace=0) == [("att-2", "ENQUEUED")]
    assert runtime.execute_run("att-2", "executor-b", workflows, threading.Event())
    step = Step.objects.get(run_id="att-2", position=0)
    # retries=3 allows 4 failures in all: a recovery grants no new ones and spends none; the
    # attempt the death cut short keeps its number 3 (docs/replay.md), so the last is 5
    assert (step.status, step.attempts) == ("ERROR", 5)
    numbers = list(
        Attempt.objects.filter(run_id="att-2").order_by("id").values_list("attempt", flat=True)
    )
    assert numbers == [1, 2, 4, 5]


@durable.workflow(name="tests.fidelity.priced")
def priced(order_id: str, amount: int) -> str:
    receipt = charge(order_id, amount)
    if first_pass(order_id):
        raise Boom("the first run stops here")
    return receipt


def test_a_fork_with_edited_input_reuses_its_checkpoints_without_a_non_determinism_error(
    transactional_db,
):
    handle = durable.start(priced, "fork-1", 10, run_id="fork-1")
    with pytest.raises(Boom):
        handle.result(timeout=10)
    fork_id = operations.fork("fork-1", from_step=1, args=["fork-1", 99])
    # step 0 is reused as recorded (charged 10), though the edited input passes 99 to it
    assert durable.get(fork_id).result(timeout=10) == "charged 10"
