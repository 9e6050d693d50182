"""Messages to runs and events from runs, each delivered exactly once into a history.

Inside a workflow, send/recv/set_event/get_event are entries in the run's history: the
message taken (or the timeout) commits with the checkpoint, so a replay sees the same.
Long waits in recv/get_event park the run (`durable.primitives._waiting`).

Outside a workflow (a view, or a step that may be retried) a send is made once by its
idempotency key: a message with a key a run already got is dropped, whoever sent it.
Inside a step, set_event writes at once, not as an entry: the event holds a latest value,
so a retried step setting it again is harmless (docs/messaging.md).
"""

from __future__ import annotations

from typing import Any

from durable.core import _clock as clock
from durable.core import _context as context
from durable.core import _dispatch as dispatching
from durable.core import _history as history
from durable.core import _runtime as runtime
from durable.core import _validation as validation
from durable.core._context import RunContext
from durable.core._serialization import EntryInput, dumps, entry_input, roundtrip
from durable.core._validation import validate_run_id
from durable.core.conf import settings
from durable.core.store import _primitives as store_primitives
from durable.errors import DurableError, RunNotFoundError
from durable.primitives import _waiting as waiting

DEFAULT_TIMEOUT = 60.0
KEY_CHARS = 200  # durable_event.key, durable_message.topic: varchar(200)


@context.plain_in_async_steps
def send(
    run_id: str, message: Any, topic: str | None = None, idempotency_key: str | None = None
) -> None:
    """Send `message` to run `run_id` from anywhere; it waits until the run `recv`s it.

    `idempotency_key`: the run gets one message per key, however often (or concurrently)
    the send is retried; the key is scoped to the destination run."""
    validate_run_id(run_id)
    _check_topic(topic)
    validation.text("idempotency_key", idempotency_key)
    payload = dumps(message, where=f"message to run {run_id} (topic {topic or 'default'})")
    run_context = context.current()
    if run_context is None or run_context.in_step:
        _insert(run_id, topic or "", payload, idempotency_key)
        return
    shown: dict[str, Any] = {"to": run_id, "topic": topic}
    if idempotency_key is not None:  # only then: entries recorded before keys keep their hash
        shown["idempotency_key"] = idempotency_key
    detail = entry_input(shown, where="send")
    history.replay_or_run(
        run_context,
        "durable.send",
        detail,
        lambda position: _send_at(
            run_context, position, run_id, topic, payload, detail, idempotency_key
        ),
        lambda recorded: None,
    )


def _send_at(
    run_context: RunContext,
    position: int,
    run_id: str,
    topic: str | None,
    payload: str,
    detail: EntryInput,
    idempotency_key: str | None,
) -> None:
    started_at = clock.now()

    def insert_and_record() -> None:
        _insert(run_id, topic or "", payload, idempotency_key)
        runtime.record_entry(
            run_context, position, "durable.send", "send", payload, started_at, step_input=detail
        )

    runtime.record_atomically(run_context, position, insert_and_record, lambda recorded: None)


def _insert(run_id: str, topic: str, payload: str, idempotency_key: str | None) -> None:
    exists, inserted = store_primitives.send_message(run_id, topic, payload, idempotency_key)
    if not exists:
        raise RunNotFoundError(f"cannot send to run {run_id!r}: no such run")
    if inserted:
        _wake_receiver(run_id, topic)


def _wake_receiver(run_id: str, topic: str) -> None:
    """A run parked in recv with a message waiting is due now: dispatch it on commit."""
    if store_primitives.wake_receiver(run_id, topic):
        dispatching.dispatch_on_commit(run_id)


def recv(topic: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Inside a workflow: the next message on `topic`, or None after `timeout` seconds
    (a long wait parks the run until a message comes or the timeout passes)."""
    run_context = _require_workflow("recv")
    _check_topic(topic)
    # the timeout is shown, not checked: only the topic decides which message a replay gets
    detail = entry_input({"topic": topic, "timeout": timeout}, where="recv", checked=topic)

    def take(position: int) -> tuple[bool, Any]:
        started_at = clock.now()

        def consume_and_record() -> tuple[bool, Any]:
            found, payload = store_primitives.consume_message(
                run_context.run_id, topic or "", position
            )
            if found:
                runtime.record_entry(
                    run_context,
                    position,
                    "durable.recv",
                    "recv",
                    dumps(payload, where="recv"),
                    started_at,
                    step_input=detail,
                )
            return found, payload

        return runtime.record_atomically(
            run_context, position, consume_and_record, lambda recorded: (True, recorded.output)
        )

    return waiting.wait(
        run_context, "durable.recv", "recv", take, timeout, detail,
        on_parked=lambda: _wake_receiver(run_context.run_id, topic or ""),
    )  # fmt: skip


@context.plain_in_async_steps
def set_event(key: str, value: Any) -> None:
    """Inside a workflow or one of its steps: publish `value` under `key` for callers
    polling `get_event` (the latest value wins). From the workflow body it is an entry in
    the history; from a step it is written at once (a retried step sets it again)."""
    run_context = context.current()
    if run_context is None:
        raise DurableError(
            "durable.set_event() works only inside a workflow or its steps: it publishes an "
            "event of the running workflow; from elsewhere, send the run a message instead"
        )
    check_key(key)
    if run_context.in_step:
        where = f"workflow {run_context.workflow.name} event {key!r}"
        step = context.current_step.get()
        assert step is not None  # a step sets its tags before its body runs
        store_primitives.set_event_from_step(
            run_context.run_id, key, dumps(value, where=where), step.position
        )
        return
    history.replay_or_run(
        run_context,
        "durable.set_event",
        entry_input({"key": key}, where="set_event"),
        lambda position: _set_event_at(run_context, position, key, value),
        lambda recorded: None,
    )


def _set_event_at(run_context: RunContext, position: int, key: str, value: Any) -> None:
    payload = dumps(value, where=f"workflow {run_context.workflow.name} event {key!r}")
    started_at = clock.now()

    def publish_and_record() -> None:
        store_primitives.set_event(run_context.run_id, key, payload)
        runtime.record_entry(
            run_context,
            position,
            "durable.set_event",
            "set_event",
            payload,
            started_at,
            step_input=entry_input({"key": key}, where="set_event"),
        )

    runtime.record_atomically(run_context, position, publish_and_record, lambda recorded: None)


@context.plain_in_async_steps
def get_all_events(run_id: str) -> dict[str, Any]:
    """Every event run `run_id` published: key -> latest value, decoded as it was stored.

    A snapshot, read at once (no waiting); inside a workflow body it is recorded, so a
    replay sees the snapshot the first run saw."""
    validate_run_id(run_id)
    run_context = context.current()
    if run_context is None or run_context.in_step:
        return _all_events(run_id)
    detail = entry_input({"run_id": run_id}, where="get_all_events")

    def read_and_record(position: int) -> dict[str, Any]:
        started_at = clock.now()
        output = dumps(_all_events(run_id), where="get_all_events")
        runtime.record_entry(
            run_context, position, "durable.get_all_events", "get_event", output, started_at,
            step_input=detail,
        )  # fmt: skip
        return roundtrip(output)

    return history.replay_or_run(
        run_context,
        "durable.get_all_events",
        detail,
        read_and_record,
        lambda recorded: recorded.output,
    )


def _all_events(run_id: str) -> dict[str, Any]:
    events = store_primitives.all_events(run_id)
    if events is None:
        raise RunNotFoundError(f"no run with id {run_id!r}")
    return events


@context.plain_in_async_steps
def get_event(run_id: str, key: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """The value run `run_id` published under `key`, waiting up to `timeout`; else None.
    Inside a workflow a long wait parks the run, which looks again now and then."""
    validate_run_id(run_id)
    check_key(key)
    run_context = context.current()
    if run_context is None or run_context.in_step:
        return waiting.poll(None, lambda: store_primitives.get_event(run_id, key), timeout)[1]
    detail = entry_input({"run_id": run_id, "key": key}, where="get_event")

    def look(position: int) -> tuple[bool, Any]:
        started_at = clock.now()
        found, value = store_primitives.get_event(run_id, key)
        if not found:
            return False, None
        output = dumps(value, where="get_event")
        runtime.record_entry(
            run_context, position, "durable.get_event", "get_event", output, started_at,
            step_input=detail,
        )  # fmt: skip
        return True, roundtrip(output)

    return waiting.wait(
        run_context, "durable.get_event", "get_event", look, timeout, detail,
        recheck=settings.DURABLE_PARKED_POLL_SECONDS,
    )  # fmt: skip


def check_key(key: Any) -> None:
    """An event key the column holds (text of 1..200 printable characters), refused at the
    call rather than as a database error."""
    validation.text("key", key, max_length=KEY_CHARS, optional=False)


def _check_topic(topic: Any) -> None:
    """A topic the column holds; None and "" both mean the default topic (left as given:
    the recorded entries of send and recv show it)."""
    if topic != "":
        validation.text("topic", topic, max_length=KEY_CHARS)


def _require_workflow(what: str) -> RunContext:
    run_context = context.current()
    if run_context is None or run_context.in_step:
        raise DurableError(f"durable.{what}() works only inside a workflow (not in a step)")
    return run_context
