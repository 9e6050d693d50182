"""Values are JSON; what cannot be stored fails at the call, never half-written."""

from __future__ import annotations

import datetime
import json

import pytest

import durable
from durable.errors import PayloadTooLargeError, SerializationError
from durable.models import Run, Step
from tests.engine.workflows import sum_three


def test_a_non_serializable_input_fails_at_start_naming_workflow_and_type(transactional_db):
    with pytest.raises(SerializationError) as raised:
        durable.start(sum_three, object(), 2, 3, run_id="ser-1")
    assert "tests.sum_three" in str(raised.value) and "object" in str(raised.value)
    assert not Run.objects.filter(id="ser-1").exists()


@durable.step(name="returns_a_date")
def returns_a_date() -> datetime.date:
    return datetime.date(2026, 1, 1)


@durable.workflow(name="tests.bad_output")
def bad_output() -> object:
    return returns_a_date()


def test_a_non_serializable_step_output_fails_the_run_naming_the_step(transactional_db):
    handle = durable.start(bad_output, run_id="ser-2")
    with pytest.raises(SerializationError) as raised:
        handle.result(timeout=10)
    message = str(raised.value)
    assert "tests.bad_output" in message and "returns_a_date" in message and "date" in message
    assert not Step.objects.filter(run_id="ser-2").exists()


def test_nan_is_refused_rather_than_stored(transactional_db):
    with pytest.raises(SerializationError):
        durable.start(sum_three, float("nan"), 1, 1)


def test_an_oversized_payload_is_refused_with_the_limit(transactional_db, settings):
    settings.DURABLE_MAX_PAYLOAD_BYTES = 1000
    with pytest.raises(PayloadTooLargeError, match="1,000-byte limit"):
        durable.start(sum_three, "x" * 2000, 1, 1)
    assert not Run.objects.exists()


@durable.step(name="make_tuple")
def make_tuple() -> tuple:
    return (1, 2)


@durable.workflow(name="tests.tuple_output")
def tuple_output() -> list:
    value = make_tuple()
    return [type(value).__name__, value]


def test_first_runs_see_the_same_decoded_values_as_replays(transactional_db):
    assert durable.run(tuple_output) == ["list", [1, 2]]


ENCODER_CASES = [
    None, True, 0, -7, 2**70, 1.5, -0.0, 1e300, "", "plain", "ünï \u2028 \"q\" \\ \n\t",
    [], {}, [1, [2, [3]]], {"b": 1, "a": [None, {"z": 0, "y": "x"}]}, {1: "int key"},
    {"args": [], "kwargs": {}}, ("a", "tuple"),
]  # fmt: skip


@pytest.mark.parametrize("value", ENCODER_CASES, ids=repr)
def test_the_shared_encoder_writes_what_json_dumps_writes(value):
    from durable.core import _serialization as serialization

    expected = json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    assert serialization._encode(value) == expected


@pytest.mark.parametrize("value", ENCODER_CASES, ids=repr)
def test_roundtrip_returns_what_json_loads_returns(value):
    from durable.core._serialization import dumps, roundtrip

    text = dumps(value, where="test")
    decoded = roundtrip(text)
    assert decoded == json.loads(text)
    assert type(decoded) is type(json.loads(text))
    assert json.dumps(decoded) == json.dumps(json.loads(text))  # key order too


def test_the_shared_encoder_refuses_what_json_dumps_refuses():
    from durable.core import _serialization as serialization

    cycle: list = []
    cycle.append(cycle)
    for bad, error in ((float("nan"), ValueError), ({"x": object()}, TypeError)):
        with pytest.raises(error):
            serialization._encode(bad)
    with pytest.raises(ValueError, match="Circular reference"):
        serialization._encode(cycle)
    with pytest.raises(SerializationError, match="not JSON-serializable"):
        serialization.dumps(cycle, where="test")
