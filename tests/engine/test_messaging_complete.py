"""Messages and events, complete: send with an idempotency key, get_all_events, set_event
inside steps (and what forks carry of them)."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import durable
from durable import executors, operations
from durable.errors import DurableError, InvalidArgumentError, RunNotFoundError
from durable.models import Message, Run, Step, StepEvent
from tests.engine.test_async import off_the_test_thread
from tests.tiers import examples


@durable.workflow(name="tests.msg.inbox")
def inbox(count: int) -> list:
    return [durable.recv(timeout=0.5) for _ in range(count)]


@durable.workflow(name="tests.msg.idle")
def idle() -> str:
    return durable.recv("never", timeout=30) or "idle"


def _pending(run_id: str) -> list:
    return list(
        Message.objects.filter(run_id=run_id).order_by("id").values_list("payload", flat=True)
    )


def test_a_send_retried_with_its_idempotency_key_is_delivered_once(transactional_db):
    Run.objects.create(id="inbox-1", workflow="tests.msg.inbox", status="CANCELLED")
    durable.send("inbox-1", {"n": 1}, idempotency_key="order-42-paid")
    durable.send("inbox-1", {"n": 1}, idempotency_key="order-42-paid")
    durable.send("inbox-1", {"n": 2}, idempotency_key="order-43-paid")
    assert _pending("inbox-1") == [{"n": 1}, {"n": 2}]


def test_sends_without_a_key_are_each_delivered(transactional_db):
    Run.objects.create(id="inbox-2", workflow="tests.msg.inbox", status="CANCELLED")
    durable.send("inbox-2", "hi")
    durable.send("inbox-2", "hi")
    assert _pending("inbox-2") == ["hi", "hi"]


def test_an_idempotency_key_is_scoped_to_the_destination_run(transactional_db):
    for run_id in ("inbox-a", "inbox-b"):
        Run.objects.create(id=run_id, workflow="tests.msg.inbox", status="CANCELLED")
        durable.send(run_id, "go", idempotency_key="same-key")
    assert _pending("inbox-a") == ["go"] and _pending("inbox-b") == ["go"]


def test_two_concurrent_sends_with_one_key_deliver_one_message(transactional_db):
    """The second send blocks on the first's uncommitted row in the unique index and,
    once that commits, inserts nothing: no read-then-write window."""
    Run.objects.create(id="inbox-3", workflow="tests.msg.inbox", status="CANCELLED")
    first_sent, second_started, errors = threading.Event(), threading.Event(), []

    def first() -> None:
        try:
            with transaction.atomic():
                durable.send("inbox-3", "first", idempotency_key="k")
                first_sent.set()
                second_started.wait(10)
                threading.Event().wait(0.3)  # the second send is now waiting on this row
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def second() -> None:
        try:
            first_sent.wait(10)
            second_started.set()
            durable.send("inbox-3", "second", idempotency_key="k")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert _pending("inbox-3") == ["first"]


def test_a_running_receiver_gets_a_keyed_message_once(transactional_db):
    handle = durable.start(inbox, 2, run_id="inbox-4")
    durable.send("inbox-4", "pay", idempotency_key="pay-1")
    durable.send("inbox-4", "pay", idempotency_key="pay-1")
    assert handle.result(timeout=10) == ["pay", None]


@durable.workflow(name="tests.msg.notifier")
def notifier(target: str) -> None:
    durable.send(target, "ready", idempotency_key="ready-once")
    durable.send(target, "ready", idempotency_key="ready-once")


def test_the_key_holds_for_sends_from_a_workflow_too(transactional_db):
    Run.objects.create(id="inbox-5", workflow="tests.msg.inbox", status="CANCELLED")
    durable.run(notifier, "inbox-5", run_id="notifier-1")
    assert _pending("inbox-5") == ["ready"]
    sends = Step.objects.filter(run_id="notifier-1", kind="send")
    assert [step.input["idempotency_key"] for step in sends] == ["ready-once", "ready-once"]


def test_a_bad_idempotency_key_is_refused_before_anything_is_written(transactional_db):
    Run.objects.create(id="inbox-6", workflow="tests.msg.inbox", status="CANCELLED")
    for bad in ("", "x" * 201, 42, "line\nbreak"):
        with pytest.raises(InvalidArgumentError, match="idempotency_key"):
            durable.send("inbox-6", "hi", idempotency_key=bad)
    assert _pending("inbox-6") == []


def test_a_keyed_send_to_an_unknown_run_is_refused(transactional_db):
    with pytest.raises(RunNotFoundError):
        durable.send("no-such-run", "hi", idempotency_key="k")


@durable.workflow(name="tests.msg.publisher")
def publisher() -> dict:
    durable.set_event("progress", 10)
    durable.set_event("order", {"z": 1, "a": [1.0, 2]})
    durable.set_event("progress", 100)
    return durable.get_all_events(durable_run_id())


def durable_run_id() -> str:
    from durable.core import _context as context

    return context.current().run_id


def test_get_all_events_returns_each_keys_latest_value_as_stored(transactional_db):
    seen_inside = durable.run(publisher, run_id="events-1")
    events = durable.get_all_events("events-1")
    assert events == {"order": {"z": 1, "a": [1.0, 2]}, "progress": 100}
    assert list(events["order"]) == ["z", "a"]  # key order kept
    assert isinstance(events["order"]["a"][0], float)  # 1.0 stays a float
    assert seen_inside == events


def test_get_all_events_in_a_workflow_body_is_recorded_for_replay(transactional_db):
    durable.run(publisher, run_id="events-2")
    entry = Step.objects.get(run_id="events-2", name="durable.get_all_events")
    assert entry.output == {"progress": 100, "order": {"z": 1, "a": [1.0, 2]}}


def test_get_all_events_of_a_run_without_events_is_empty(transactional_db):
    Run.objects.create(id="events-3", workflow="tests.msg.publisher", status="ENQUEUED")
    assert durable.get_all_events("events-3") == {}


def test_get_all_events_of_an_unknown_run_is_refused(transactional_db):
    with pytest.raises(RunNotFoundError):
        durable.get_all_events("no-such-run")


attempts: dict[str, int] = {}


@durable.step(retries=2, retry_delay=0.01)
def report_progress(run_id: str, fail_first: bool) -> str:
    attempts[run_id] = attempts.get(run_id, 0) + 1
    durable.set_event("progress", f"attempt {attempts[run_id]}")
    if fail_first and attempts[run_id] == 1:
        raise RuntimeError("flaky")
    return "reported"


@durable.workflow(name="tests.msg.step_events")
def step_events(run_id: str, fail_first: bool) -> str:
    report_progress(run_id, fail_first)
    durable.set_event("done", True)
    return "ok"


def test_set_event_inside_a_step_publishes_at_once_without_an_entry(transactional_db):
    durable.run(step_events, "step-ev-1", False, run_id="step-ev-1")
    assert durable.get_event("step-ev-1", "progress", timeout=0) == "attempt 1"
    kinds = list(Step.objects.filter(run_id="step-ev-1").values_list("kind", flat=True))
    assert kinds == ["step", "set_event"]  # the step's event is not a history entry
    assert StepEvent.objects.get(run_id="step-ev-1").position == 0  # what forks copy


def test_a_retried_step_sets_its_event_again_and_the_last_write_wins(transactional_db):
    durable.run(step_events, "step-ev-2", True, run_id="step-ev-2")
    assert durable.get_event("step-ev-2", "progress", timeout=0) == "attempt 2"


@durable.transaction()
def publish_then_fail() -> None:
    durable.set_event("charged", True)
    raise RuntimeError("card declined")


@durable.workflow(name="tests.msg.txn_event")
def txn_event() -> None:
    publish_then_fail()


def test_an_event_set_in_a_failed_transaction_step_is_rolled_back_with_it(transactional_db):
    handle = durable.start(txn_event, run_id="txn-ev-1")
    with pytest.raises(RuntimeError, match="card declined"):
        handle.result(timeout=10)
    assert durable.get_all_events("txn-ev-1") == {}


def test_set_event_outside_a_run_says_where_it_works(transactional_db):
    with pytest.raises(DurableError, match="inside a workflow or its steps"):
        durable.set_event("progress", 1)


@durable.step()
def stage(label: str) -> str:
    durable.set_event("stage", label)
    return label


@durable.workflow(name="tests.msg.stages")
def stages() -> str:
    stage("one")
    durable.set_event("body", "set")
    stage("two")
    return "done"


def test_a_fork_carries_the_events_set_before_its_fork_point(transactional_db, settings):
    durable.run(stages, run_id="stages-1")
    assert durable.get_all_events("stages-1") == {"stage": "two", "body": "set"}
    executors.shutdown()
    settings.DURABLE_EXECUTOR = "external"  # the forks stay as created: nothing runs them
    from_2 = operations.fork("stages-1", from_step=2, actor="test")
    from_1 = operations.fork("stages-1", from_step=1, actor="test")
    # step 0 set "stage" to "one", the body's entry 1 set "body"; step 2's "two" is not copied
    assert durable.get_all_events(from_2) == {"stage": "one", "body": "set"}
    assert durable.get_all_events(from_1) == {"stage": "one"}
    fork_of_fork = operations.fork(from_2, from_step=1, actor="test")
    assert durable.get_all_events(fork_of_fork) == {"stage": "one"}


@durable.workflow(name="tests.msg.keyed")
def keyed(key: object, in_step: bool) -> str:
    if in_step:
        set_in_step(key)
    else:
        durable.set_event(key, "v")
    return "set"


@durable.step(name="tests.msg.set_in_step")
def set_in_step(key: object) -> None:
    durable.set_event(key, "v")


KEYS = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=260),
    st.integers(), st.none(), st.booleans(), st.lists(st.integers(), max_size=2),
)  # fmt: skip


@hypothesis_settings(max_examples=examples(30), deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(key=KEYS, in_step=st.booleans())
def test_any_event_key_either_works_or_is_refused_at_the_call(transactional_db, key, in_step):
    """Never a database error (a varchar(200) overflow, a key that is not text): the run
    ends with the event set, or failed with InvalidArgumentError raised by set_event."""
    handle = durable.start(keyed, key, in_step)
    with contextlib.suppress(Exception):
        handle.result(timeout=20)
    run = Run.objects.get(id=handle.run_id)
    if run.status == "SUCCESS":
        assert durable.get_event(handle.run_id, key, timeout=0) == "v"
    else:
        assert (run.status, run.error_type) == ("ERROR", "durable.errors.InvalidArgumentError")
        assert not (isinstance(key, str) and 0 < len(key) <= 200 and key.isprintable())


def test_event_and_topic_keys_are_checked_where_they_are_read_and_sent(transactional_db):
    Run.objects.create(id="keys-1", workflow="tests.msg.inbox", status="CANCELLED")
    for bad in ("k" * 201, 7, ""):
        with pytest.raises(InvalidArgumentError, match="key"):
            durable.get_event("keys-1", bad, timeout=0)
    for bad in ("t" * 201, 7, "a\x00b"):
        with pytest.raises(InvalidArgumentError, match="topic"):
            durable.send("keys-1", "hi", topic=bad)
    assert not Message.objects.exists()
    durable.send("keys-1", "hi", topic="")  # the default topic, as before
    assert durable.get_event("keys-1", "k" * 200, timeout=0) is None


@durable.workflow(name="tests.msg.long_topic")
def long_topic() -> object:
    return durable.recv("t" * 201, timeout=0.1)


def test_a_recv_topic_too_long_to_store_is_refused_at_the_call(transactional_db):
    handle = durable.start(long_topic)
    with pytest.raises(InvalidArgumentError, match="topic"):
        handle.result(timeout=10)


def test_an_async_get_event_outside_a_run_checks_its_key_too(transactional_db):
    with pytest.raises(InvalidArgumentError, match="key"):
        off_the_test_thread(asyncio.run, durable.get_event_async("keys-2", "k" * 201, timeout=0))
