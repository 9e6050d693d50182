"""Streams: a run appends values to a named stream that callers read as they arrive;
durable (a resume or a crash does not append a body's writes twice) and exact (any JSON
value reads back as written)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import durable
from durable import executors, operations
from durable.core.store import _streams as store_streams
from durable.errors import (
    DurableError,
    InvalidArgumentError,
    RunNotFoundError,
    StreamClosedError,
    StreamTimeoutError,
)
from durable.models import Run, RunStatus, Step, StreamEntry
from durable.operations import _retention as retention
from tests.engine.processes import start_worker, stop, wait_for
from tests.engine.workflows import stream_ledger
from tests.tiers import examples


def _values(run_id: str, key: str = "progress") -> list:
    return list(durable.read_stream(run_id, key, timeout=10))


@durable.workflow(name="tests.streams.tokens")
def tokens(words: list) -> str:
    for word in words:
        durable.write_stream("tokens", word)
    durable.close_stream("tokens")
    return " ".join(words)


def test_values_written_in_the_body_are_read_in_order_until_the_stream_closes(
    transactional_db,
):
    durable.run(tokens, ["durable", "streams", "work"], run_id="tokens-1")
    assert list(durable.read_stream("tokens-1", "tokens")) == ["durable", "streams", "work"]
    offsets = StreamEntry.objects.filter(run_id="tokens-1").order_by("offset")
    assert [(e.offset, e.closed) for e in offsets] == [
        (0, False),
        (1, False),
        (2, False),
        (3, True),
    ]
    kinds = set(Step.objects.filter(run_id="tokens-1").values_list("kind", flat=True))
    assert kinds == {"stream"}  # each write and the close are entries in the history


@durable.workflow(name="tests.streams.gated")
def gated() -> str:
    durable.write_stream("answer", "first")
    durable.recv("next", timeout=30)
    durable.write_stream("answer", "second")
    durable.close_stream("answer")
    return "done"


def test_a_concurrent_reader_gets_each_value_as_it_arrives(transactional_db):
    handle = durable.start(gated, run_id="gated-1")
    got: list = []

    def read() -> None:
        try:
            for value in durable.read_stream("gated-1", "answer"):
                got.append((value, time.monotonic()))
        finally:
            connection.close()

    reader = threading.Thread(target=read)
    reader.start()
    wait_for(lambda: len(got) == 1, 10, "the reader to get the first value")
    time.sleep(0.2)
    assert [value for value, _ in got] == ["first"]  # the second is not written yet
    released = time.monotonic()
    durable.send("gated-1", "go", topic="next")
    reader.join(10)
    assert [value for value, _ in got] == ["first", "second"]
    assert got[1][1] >= released and not reader.is_alive()  # ended at the close
    assert handle.result(timeout=10) == "done"


@durable.workflow(name="tests.streams.unclosed")
def unclosed() -> int:
    return durable.write_stream("progress", 1)


def test_the_reader_ends_when_the_run_ends_without_closing(transactional_db):
    durable.run(unclosed, run_id="unclosed-1")
    started = time.monotonic()
    assert _values("unclosed-1") == [1]
    assert time.monotonic() - started < 2


def test_a_reader_times_out_without_new_values_and_can_go_on_from_its_offset(
    transactional_db,
):
    handle = durable.start(gated, run_id="gated-2")
    got = []
    with pytest.raises(StreamTimeoutError, match="after=0"):
        for value in durable.read_stream("gated-2", "answer", timeout=0.3):
            got.append(value)
    assert got == ["first"]
    durable.send("gated-2", "go", topic="next")
    assert list(durable.read_stream("gated-2", "answer", after=0, timeout=10)) == ["second"]
    handle.result(timeout=10)


def test_stream_entries_pages_by_offset_for_polling_uis(transactional_db):
    durable.run(tokens, ["a", "b", "c"], run_id="tokens-2")
    first = durable.stream_entries("tokens-2", "tokens", limit=2)
    assert (first.values, first.last_offset, first.done) == (["a", "b"], 1, False)
    rest = durable.stream_entries("tokens-2", "tokens", after=first.last_offset)
    assert (rest.values, rest.closed, rest.done) == (["c"], True, True)
    empty = durable.stream_entries("tokens-2", "no-such-stream")
    assert (empty.values, empty.closed, empty.run_ended) == ([], False, True)


@durable.workflow(name="tests.streams.double_close")
def double_close(write_after: bool) -> str:
    durable.write_stream("s", 1)
    durable.close_stream("s")
    durable.close_stream("s")  # closing again does nothing
    if write_after:
        durable.write_stream("s", 2)
    return "ok"


def test_closing_twice_is_harmless_and_writing_after_close_is_refused(transactional_db):
    assert durable.run(double_close, False, run_id="close-1") == "ok"
    with pytest.raises(StreamClosedError, match="stream 's' is closed"):
        durable.run(double_close, True, run_id="close-2")
    assert _values("close-2", "s") == [1]


def test_write_stream_outside_a_run_says_where_it_works(transactional_db):
    with pytest.raises(DurableError, match="inside a workflow or its steps"):
        durable.write_stream("progress", 1)


@durable.workflow(name="tests.streams.reads_in_body")
def reads_in_body(other: str) -> list:
    return list(durable.read_stream(other, "tokens"))


def test_reading_a_stream_in_a_workflow_body_is_refused_with_the_reason(transactional_db):
    durable.run(tokens, ["x"], run_id="tokens-3")
    with pytest.raises(DurableError, match="read the stream inside a step"):
        durable.run(reads_in_body, "tokens-3", run_id="reads-1")


def test_bad_reader_arguments_are_refused_at_the_call(transactional_db):
    with pytest.raises(InvalidArgumentError, match="after"):
        durable.read_stream("tokens-x", "tokens", after=-5)
    with pytest.raises(InvalidArgumentError, match="timeout"):
        durable.read_stream("tokens-x", "tokens", timeout=-1)
    with pytest.raises(RunNotFoundError):
        durable.stream_entries("no-such-run", "tokens")


@durable.step(retries=1, retry_delay=0.01)
def generate(run_id: str, fail_first: bool) -> str:
    attempt = durable.current().attempt
    durable.write_stream("llm", f"token-a{attempt}")
    if fail_first and attempt == 1:
        raise RuntimeError("model overloaded")
    durable.write_stream("llm", f"token-b{attempt}")
    return "text"


@durable.workflow(name="tests.streams.llm")
def llm(run_id: str, fail_first: bool) -> str:
    text = generate(run_id, fail_first)
    durable.close_stream("llm")
    return text


def test_a_steps_writes_carry_its_position_and_attempt_and_a_failed_attempts_stay(
    transactional_db,
):
    durable.run(llm, "llm-1", True, run_id="llm-1")
    page = durable.stream_entries("llm-1", "llm")
    assert page.values == ["token-a1", "token-a2", "token-b2"]
    assert [(e.position, e.attempt) for e in page.entries] == [(0, 1), (0, 2), (0, 2)]
    final = [e.value for e in page.entries if e.attempt == max(x.attempt for x in page.entries)]
    assert final == ["token-a2", "token-b2"]  # what a reader keeping one attempt shows


token_gate = threading.Event()


@durable.step()
def stream_tokens() -> int:
    durable.write_stream("tokens", "Hello")
    token_gate.wait(10)  # the step is still running when the reader gets "Hello"
    durable.write_stream("tokens", "world")
    return 2


@durable.workflow(name="tests.streams.live_step")
def live_step() -> int:
    count = stream_tokens()
    durable.close_stream("tokens")
    return count


def test_a_reader_sees_a_steps_values_while_the_step_still_runs(transactional_db):
    token_gate.clear()
    handle = durable.start(live_step, run_id="live-1")
    reader = durable.read_stream("live-1", "tokens", timeout=10)
    assert next(reader) == "Hello"
    assert not Step.objects.filter(run_id="live-1").exists()  # no checkpoint yet
    token_gate.set()
    assert list(reader) == ["world"]
    assert handle.result(timeout=10) == 2


@durable.transaction()
def stream_then_fail() -> None:
    durable.write_stream("ledger", "debited")
    raise RuntimeError("rolled back")


@durable.workflow(name="tests.streams.txn")
def txn_stream() -> None:
    stream_then_fail()


def test_a_transaction_steps_writes_roll_back_with_it(transactional_db):
    with pytest.raises(RuntimeError, match="rolled back"):
        durable.run(txn_stream, run_id="txn-stream-1")
    assert not StreamEntry.objects.filter(run_id="txn-stream-1").exists()


fail_switch = {"on": True}


@durable.step()
def maybe_fail() -> str:
    if fail_switch["on"]:
        raise RuntimeError("fails until fixed")
    return "fixed"


@durable.workflow(name="tests.streams.resumable")
def resumable() -> str:
    durable.write_stream("progress", "started")
    durable.write_stream("progress", {"done": 1})
    outcome = maybe_fail()
    durable.write_stream("progress", outcome)
    durable.close_stream("progress")
    return outcome


def test_a_resume_does_not_append_the_bodys_writes_again(transactional_db):
    fail_switch["on"] = True
    with pytest.raises(RuntimeError):
        durable.run(resumable, run_id="resume-1")
    fail_switch["on"] = False
    operations.resume("resume-1", actor="test")
    assert durable.get("resume-1").result(timeout=10) == "fixed"
    assert _values("resume-1") == ["started", {"done": 1}, "fixed"]


def test_a_fork_copies_the_stream_entries_of_its_copied_checkpoints(transactional_db, settings):
    durable.run(tokens, ["a", "b", "c"], run_id="tokens-4")
    executors.shutdown()
    settings.DURABLE_EXECUTOR = "external"  # the fork stays as created
    fork_id = operations.fork("tokens-4", from_step=2, actor="test")
    entries = StreamEntry.objects.filter(run_id=fork_id).order_by("offset")
    assert [(e.offset, e.value) for e in entries] == [(0, "a"), (1, "b")]


def test_a_body_write_whose_connection_drops_goes_on_in_place_once(transactional_db, monkeypatch):
    real, dropped = store_streams.append, []

    def drop_then_append(*args, **kwargs):
        if not dropped:
            dropped.append(True)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_streams, "append", drop_then_append)
    assert durable.run(tokens, ["only"], run_id="blip-1") == "only"
    assert dropped and _values("blip-1", "tokens") == ["only"]
    run = Run.objects.get(id="blip-1")
    assert (run.status, run.recovery_count) == ("SUCCESS", 0)


def test_pruning_a_run_deletes_its_stream(transactional_db):
    durable.run(tokens, ["a"], run_id="tokens-5")
    Run.objects.filter(id="tokens-5").update(
        finished_at=Run.objects.get(id="tokens-5").finished_at - timedelta(days=2)
    )
    assert retention.prune(timedelta(days=1)) == 1
    assert not StreamEntry.objects.filter(run_id="tokens-5").exists()


@durable.workflow(name="tests.streams.echo")
def echo(value: object) -> None:
    durable.write_stream("v", value)
    durable.close_stream("v")


# every JSON text PostgreSQL can store: no NUL, no lone surrogate (refused at the call)
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


@hypothesis_settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=JSON)
def test_any_json_value_reads_back_from_a_stream_exactly(transactional_db, value):
    run_id = f"echo-{uuid.uuid4().hex}"
    durable.run(echo, value, run_id=run_id)
    (read,) = durable.read_stream(run_id, "v", timeout=10)
    # same text: same key order, ints stay ints and floats floats (1.0, -0.0, 1e16)
    assert json.dumps(read) == json.dumps(value)


@pytest.mark.slow
def test_a_run_killed_mid_stream_resumes_without_repeating_or_losing_values(side_effects, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.start(stream_ledger, "stream-crash-1", 6, 0.4, run_id="stream-crash-1")
    first = start_worker()
    second = None
    try:
        wait_for(
            lambda: StreamEntry.objects.filter(run_id="stream-crash-1").count() >= 3,
            60,
            "three values streamed",
        )
        first.kill()
        first.wait(10)
        second = start_worker()
        values = list(durable.read_stream("stream-crash-1", "progress", timeout=90))
        wait_for(
            lambda: Run.objects.get(id="stream-crash-1").status == RunStatus.SUCCESS,
            60,
            "the recovered run to finish",
        )
    finally:
        logs = stop(first) + (stop(second) if second else "")
    assert values == [0, 1, 2, 3, 4, 5], logs
    offsets = list(
        StreamEntry.objects.filter(run_id="stream-crash-1")
        .order_by("offset")
        .values_list("offset", flat=True)
    )
    assert offsets == list(range(7))  # six values and the close marker, no gap, no repeat
