"""Messages to runs and events from runs, each delivered exactly once into a history.

Inside a workflow, send/recv/set_event/get_event are entries in the run's history: the
message taken (or the timeout) commits with the checkpoint, so a replay sees the same.
Long waits in recv/get_event park the run (`durable.waiting`).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from durable import clock, context, executors, history, runtime, store_primitives, waiting
from durable.api import validate_run_id
from durable.conf import settings
from durable.context import RunContext
from durable.errors import DurableError, RunNotFoundError
from durable.serialization import EntryInput, dumps, entry_input, roundtrip

DEFAULT_TIMEOUT = 60.0


def send(run_id: str, message: Any, topic: str | None = None) -> None:
    """Send `message` to run `run_id` from anywhere; it waits until the run `recv`s it."""
    validate_run_id(run_id)
    payload = dumps(message, where=f"message to run {run_id} (topic {topic or 'default'})")
    run_context = context.current()
    if run_context is None or run_context.in_step:
        _insert(run_id, topic or "", payload)
        return
    detail = entry_input({"to": run_id, "topic": topic}, where="send")
    history.replay_or_run(
        run_context,
        "durable.send",
        detail,
        lambda position: _send_at(run_context, position, run_id, topic, payload, detail),
        lambda recorded: None,
    )


def _send_at(
    run_context: RunContext,
    position: int,
    run_id: str,
    topic: str | None,
    payload: str,
    detail: EntryInput,
) -> None:
    started_at = clock.now()

    def insert_and_record() -> None:
        _insert(run_id, topic or "", payload)
        runtime.record_entry(
            run_context, position, "durable.send", "send", payload, started_at, step_input=detail
        )

    runtime.record_atomically(run_context, position, insert_and_record, lambda recorded: None)


def _insert(run_id: str, topic: str, payload: str) -> None:
    if not store_primitives.send_message(run_id, topic, payload):
        raise RunNotFoundError(f"cannot send to run {run_id!r}: no such run")
    _wake_receiver(run_id, topic)


def _wake_receiver(run_id: str, topic: str) -> None:
    """A run parked in recv with a message waiting is due now: dispatch it on commit."""
    if store_primitives.wake_receiver(run_id, topic):
        transaction.on_commit(lambda: executors.dispatch(run_id))


def recv(topic: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Inside a workflow: the next message on `topic`, or None after `timeout` seconds
    (a long wait parks the run until a message comes or the timeout passes)."""
    run_context = _require_workflow("recv")
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


def set_event(key: str, value: Any) -> None:
    """Inside a workflow: publish `value` under `key` for callers polling `get_event`."""
    run_context = _require_workflow("set_event")
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


def get_event(run_id: str, key: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """The value run `run_id` published under `key`, waiting up to `timeout`; else None.
    Inside a workflow a long wait parks the run, which looks again now and then."""
    validate_run_id(run_id)
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


def _require_workflow(what: str) -> RunContext:
    run_context = context.current()
    if run_context is None or run_context.in_step:
        raise DurableError(f"durable.{what}() works only inside a workflow (not in a step)")
    return run_context
