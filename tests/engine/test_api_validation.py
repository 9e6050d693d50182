"""The Python API refuses bad arguments with a DurableError naming the argument: no database
error, no silent coercion. Includes a hypothesis fuzz of every argument."""

from __future__ import annotations

import math

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import durable
from durable import operations
from durable.core._validation import validate_run_id
from durable.errors import DurableError, InvalidRunIdError
from durable.models import AuditEntry, Run
from tests.engine.workflows import sum_three
from tests.tiers import examples

DEEP = [[]]
for _ in range(5000):
    DEEP = [DEEP]

BAD_START_ARGUMENTS = [
    ("priority", {"priority": "1"}),
    ("priority", {"priority": 1.5}),
    ("priority", {"priority": True}),
    ("priority", {"priority": 2**40}),
    ("queue", {"queue": ["a"]}),
    ("queue", {"queue": ""}),
    ("queue", {"queue": "a\x00b"}),
    ("queue", {"queue": 5}),
    ("queue", {"queue": "q" * 201}),
    ("dedup_id", {"dedup_id": 5}),
    ("dedup_id", {"dedup_id": ["x"]}),
    ("dedup_id", {"dedup_id": "\x00"}),
    ("timeout", {"timeout": "5"}),
    ("timeout", {"timeout": -1}),
    ("timeout", {"timeout": math.nan}),
    ("timeout", {"timeout": math.inf}),
    ("timeout", {"timeout": 1e300}),
    ("timeout", {"timeout": True}),
    ("tags", {"tags": ["a"]}),
    ("tags", {"tags": {1: "x"}}),
    ("tags", {"tags": {"k": "a\x00b"}}),
    ("input", {"a": "nul \x00 inside"}),
    ("input", {"a": DEEP}),
    ("input", {"a": 10**5000}),
    ("input", {"a": math.nan}),
]


@pytest.mark.parametrize(("argument", "kwargs"), BAD_START_ARGUMENTS)
def test_start_refuses_a_bad_argument_naming_it(db, argument, kwargs):
    call = {"a": 1, **kwargs}
    with pytest.raises(DurableError) as caught:
        durable.start(sum_three, call.pop("a"), 2, 3, **call)
    assert argument in str(caught.value)
    assert not Run.objects.exists()


def test_a_queue_given_as_a_list_is_not_stored_as_text(db):
    with pytest.raises(DurableError, match="queue: must be a string, not list"):
        durable.start(sum_three, 1, 2, 3, queue=["a"])


@pytest.mark.parametrize(
    ("argument", "call"),
    [
        ("actor", lambda: operations.cancel(["x"], actor=5)),
        ("actor", lambda: operations.cancel(["x"], actor="a\x00")),
        ("reason", lambda: operations.cancel(["x"], reason=["why"])),
        ("reason", lambda: operations.cancel(["x"], reason="\x00")),
        ("run_ids", lambda: operations.resume(42)),
        ("run_ids", lambda: operations.resume({"a": 1})),
        ("args", lambda: operations.restart(["x"], args="abc")),
        ("kwargs", lambda: operations.restart(["x"], kwargs=[1])),
        ("from_step", lambda: operations.fork(["x"], from_step="1")),
        ("request_id", lambda: operations.restart(["x"], request_id=7)),
    ],
)
def test_operations_refuse_a_bad_argument_naming_it(db, argument, call):
    with pytest.raises(DurableError) as caught:
        call()
    assert str(caught.value).startswith(argument)


@pytest.mark.parametrize("bad", ["a/../b", "a/.", "a/./b", "x/..", "order/../../victim"])
def test_run_ids_with_dot_segments_are_refused(db, bad):
    with pytest.raises(InvalidRunIdError, match="cannot be '.' or '..'"):
        durable.start(sum_three, 1, 2, 3, run_id=bad)


@pytest.mark.parametrize("good", ["a.b", "v1.2/order-3", "a/...", "a..b/c", "x/.hidden"])
def test_dots_inside_a_segment_are_fine(good):
    assert validate_run_id(good) == good


def test_invalid_ids_in_a_bulk_action_are_audited_as_refusals(db):
    result = operations.cancel(["attacker/../victim", "nul\x00id", 42], actor="alice")
    assert len(result.refused) == 3 and not result.done
    entry = AuditEntry.objects.get(action="cancel")
    assert entry.actor == "alice" and len(entry.detail["refused"]) == 3
    assert "cannot be '.' or '..'" in entry.detail["refused"]["attacker/../victim"]


ANYTHING = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
FUZZ_COUNT = {"start": 0, "operations": 0}
EXAMPLES = examples(500, "DURABLE_FUZZ_EXAMPLES")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(["priority", "queue", "dedup_id", "timeout", "tags", "run_id", "a"]),
    value=ANYTHING,
)
def test_fuzzed_start_arguments_never_leak_a_database_error(db, name, value):
    FUZZ_COUNT["start"] += 1
    call = {"a": 1, name: value}
    try:
        with transaction.atomic():
            durable.start(sum_three, call.pop("a"), 2, 3, **call)
    except DurableError:
        pass


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    action=st.sampled_from(["cancel", "resume", "restart", "fork"]),
    name=st.sampled_from(["run_ids", "actor", "reason", "args", "kwargs", "from_step"]),
    value=ANYTHING,
)
def test_fuzzed_operation_arguments_never_leak_a_database_error(db, action, name, value):
    call: dict = {"run_ids": ["fuzz-run"], name: value}
    allowed = {"cancel": {"reason"}, "resume": set(), "restart": {"args", "kwargs"}}
    allowed["fork"] = {"args", "kwargs", "from_step"}
    if name not in allowed[action] | {"run_ids", "actor"}:
        return
    FUZZ_COUNT["operations"] += 1
    try:
        with transaction.atomic():
            getattr(operations, action)(call.pop("run_ids"), **call)
    except DurableError:
        pass


def test_report_fuzz_counts(capsys):
    """Prints how many calls the fuzz tests above made (run with -s to see it)."""
    with capsys.disabled():
        start, ops = FUZZ_COUNT["start"], FUZZ_COUNT["operations"]
        print(f"\nAPI fuzz: {start} durable.start calls, {ops} operations calls")


def test_the_command_line_refuses_run_ids_with_dot_segments(db):
    import io

    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="cannot be '.' or '..'"):
        call_command("durable", "show", "attacker/../victim", stdout=io.StringIO())
    with pytest.raises(SystemExit):  # every id refused: exit status 1, reason on stderr
        call_command("durable", "cancel", "attacker/../victim", stderr=io.StringIO())
    assert AuditEntry.objects.get(action="cancel").detail["refused"]


def test_resuming_an_id_with_a_nul_byte_is_refused_as_an_invalid_id(db):
    """The wait for steps in flight asks the database only about well-formed ids."""
    with pytest.raises(InvalidRunIdError, match="invalid run id"):
        operations.resume("\x00")
