"""Every primitive in every context: sync workflow body, async workflow body, sync step,
async step. Each cell either works (the same value, and in a body the same kind of history
entry, as its sync twin in a sync body) or is refused with the documented error, whose
message names what to use instead.

The table is the specification: a primitive added to PRIMITIVES without a row for each
context fails `test_the_table_covers_every_cell`, so no context is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import durable
from durable import client
from durable.models import Step

CONTEXTS = ("sync_body", "async_body", "sync_step", "async_step")


@durable.workflow(name="tests.matrix.child")
def child(value: int) -> int:
    return value * 2


def _me() -> str:
    return durable.current().run_id


# What each primitive does, sync and awaitable; every one acts on the calling run itself.
def _sync_read_stream() -> list[Any]:
    durable.write_stream("r", 1)
    durable.close_stream("r")
    return list(durable.read_stream(_me(), "r", timeout=5))


def _sync_recv() -> Any:
    durable.send(_me(), "hello", topic="m")
    return durable.recv("m", timeout=5)


async def _async_recv() -> Any:
    await durable.send_async(_me(), "hello", topic="m")
    return await durable.recv_async("m", timeout=5)


async def _async_read_stream() -> list[Any]:
    await durable.write_stream_async("r", 1)
    await durable.close_stream_async("r")
    return [value async for value in durable.read_stream_async(_me(), "r", timeout=5)]


def _sync_child() -> int:
    return durable.start(child, 21).result(timeout=20)


def _sync_child_by_name() -> int:
    return client.start("tests.matrix.child", [21]).result(timeout=20)


async def _async_child() -> int:
    return await (await durable.start_async(child, 21)).result_async(timeout=20)


async def _async_child_by_name() -> int:
    return await (await durable.start_async("tests.matrix.child", 21)).result_async(timeout=20)


async def _async_client_child() -> int:
    return await client.start("tests.matrix.child", [21]).result_async(timeout=20)


async def _async_get_event() -> Any:
    await durable.set_event_async("k", 7)
    return await durable.get_event_async(_me(), "k", timeout=5)


def _sync_get_event() -> Any:
    durable.set_event("k", 7)
    return durable.get_event(_me(), "k", timeout=5)


async def _async_get_all_events() -> Any:
    await durable.set_event_async("k", 7)
    return await durable.get_all_events_async(_me())


def _sync_get_all_events() -> Any:
    durable.set_event("k", 7)
    return durable.get_all_events(_me())


async def _awaited(value: Any) -> Any:
    return value


SYNC: dict[str, Callable[[], Any]] = {
    "sleep": lambda: durable.sleep(0.01),
    "send": lambda: durable.send(_me(), "hi", topic="t", idempotency_key="once"),
    "recv": _sync_recv,
    "set_event": lambda: durable.set_event("k", 7),
    "get_event": _sync_get_event,
    "get_all_events": _sync_get_all_events,
    "write_stream": lambda: durable.write_stream("s", 1),
    "close_stream": lambda: durable.close_stream("s"),
    "read_stream": _sync_read_stream,
    "start_child": _sync_child,
    "start_child_by_name": _sync_child_by_name,
    "current": lambda: durable.current().workflow,
}

ASYNC: dict[str, Callable[[], Any]] = {
    "sleep": lambda: durable.sleep_async(0.01),
    "send": lambda: durable.send_async(_me(), "hi", topic="t", idempotency_key="once"),
    "recv": _async_recv,
    "set_event": lambda: durable.set_event_async("k", 7),
    "get_event": _async_get_event,
    "get_all_events": _async_get_all_events,
    "write_stream": lambda: durable.write_stream_async("s", 1),
    "close_stream": lambda: durable.close_stream_async("s"),
    "read_stream": _async_read_stream,
    "start_child": _async_child,
    "start_child_by_name": _async_child_by_name,
    "current": lambda: _awaited(durable.current().workflow),
}

PRIMITIVES = tuple(SYNC)


@dataclass(frozen=True)
class Works:
    """The cell returns `value`; in a body it records entries named `entries` (in order)."""

    value: Any
    entries: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    """The cell raises DurableError; its message contains each of `hints`."""

    hints: tuple[str, ...]


ASYNC_TWINS = (
    "sleep_async", "recv_async", "send_async", "set_event_async", "get_event_async",
    "get_all_events_async", "write_stream_async", "close_stream_async", "start_async",
)  # fmt: skip
IN_BODY_ONLY = Refused(("only inside a workflow (not in a step)",))
READ_IN_STEP = Refused(("read the stream inside a step",))

# What each primitive does in a sync body; the async body must do the same.
IN_BODY: dict[str, Works | Refused] = {
    "sleep": Works(None, ("durable.sleep",)),
    "send": Works(None, ("durable.send",)),
    "recv": Works("hello", ("durable.send", "durable.recv")),
    "set_event": Works(None, ("durable.set_event",)),
    "get_event": Works(7, ("durable.set_event", "durable.get_event")),
    "get_all_events": Works({"k": 7}, ("durable.set_event", "durable.get_all_events")),
    "write_stream": Works(0, ("durable.write_stream",)),
    "close_stream": Works(None, ("durable.close_stream",)),
    "read_stream": READ_IN_STEP,
    "start_child": Works(42, ("tests.matrix.child", "durable.result")),
    "start_child_by_name": Works(42, ("tests.matrix.child", "durable.result")),
    "current": Works("tests.matrix.sync_body"),
}
# In a step the primitives are plain calls (no entries of their own).
IN_STEP: dict[str, Works | Refused] = {
    "sleep": Works(None),
    "send": Works(None),
    "recv": IN_BODY_ONLY,
    "set_event": Works(None),
    "get_event": Works(7),
    "get_all_events": Works({"k": 7}),
    "write_stream": Works(0),
    "close_stream": Works(None),
    "read_stream": Works([1]),
    "start_child": Works(42),
    "start_child_by_name": Works(42),
    "current": Works("tests.matrix.sync_step"),
}

TABLE: dict[tuple[str, str], Works | Refused] = {}
for name in PRIMITIVES:
    TABLE[name, "sync_body"] = IN_BODY[name]
    TABLE[name, "async_body"] = IN_BODY[name]
    TABLE[name, "sync_step"] = IN_STEP[name]
    TABLE[name, "async_step"] = IN_STEP[name]
TABLE["current", "async_body"] = Works("tests.matrix.async_body")
TABLE["current", "async_step"] = Works("tests.matrix.async_step")
for name in PRIMITIVES:  # the sync form in an async body: refused, naming every twin
    if name not in ("current", "read_stream", "start_child_by_name"):
        TABLE[name, "async_body_sync_form"] = Refused(ASYNC_TWINS)


def _outcome(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"value": call()}
    except durable.errors.DurableError as exc:
        return {"refused": str(exc)}


async def _outcome_async(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"value": await call()}
    except durable.errors.DurableError as exc:
        return {"refused": str(exc)}


@durable.step(name="tests.matrix.in_sync_step")
def in_sync_step(primitive: str) -> dict[str, Any]:
    return _outcome(SYNC[primitive])


@durable.step(name="tests.matrix.in_async_step")
async def in_async_step(primitive: str) -> dict[str, Any]:
    return _outcome(SYNC[primitive])  # docs/async.md: plain calls, as in a sync step


@durable.workflow(name="tests.matrix.sync_body")
def sync_body(primitive: str) -> dict[str, Any]:
    return _outcome(SYNC[primitive])


@durable.workflow(name="tests.matrix.async_body")
async def async_body(primitive: str) -> dict[str, Any]:
    return await _outcome_async(ASYNC[primitive])


@durable.workflow(name="tests.matrix.async_body_sync_form")
async def async_body_sync_form(primitive: str) -> dict[str, Any]:
    return _outcome(SYNC[primitive])


@durable.workflow(name="tests.matrix.sync_step")
def sync_step(primitive: str) -> dict[str, Any]:
    return in_sync_step(primitive)


@durable.workflow(name="tests.matrix.async_step")
async def async_step(primitive: str) -> dict[str, Any]:
    return await in_async_step(primitive)


WORKFLOWS = {
    "sync_body": sync_body,
    "async_body": async_body,
    "async_body_sync_form": async_body_sync_form,
    "sync_step": sync_step,
    "async_step": async_step,
}


def test_the_table_covers_every_cell():
    assert set(SYNC) == set(ASYNC) == set(IN_BODY) == set(IN_STEP)
    assert {(name, where) for name in PRIMITIVES for where in CONTEXTS} <= set(TABLE)


CELLS = [pytest.param(name, where, id=f"{name}-{where}") for name, where in sorted(TABLE)]


@pytest.mark.parametrize(("primitive", "where"), CELLS)
def test_primitive_in_context(side_effects, primitive, where):
    run_id = f"matrix-{primitive}-{where}"
    outcome = durable.run(WORKFLOWS[where], primitive, run_id=run_id)
    expected = TABLE[primitive, where]
    if isinstance(expected, Refused):
        assert "refused" in outcome, f"expected a refusal, got {outcome}"
        for hint in expected.hints:
            assert hint in outcome["refused"]
        return
    assert outcome == {"value": expected.value}
    if where.endswith("_body"):
        recorded = Step.objects.filter(run_id=run_id).order_by("position")
        assert tuple(step.name for step in recorded) == expected.entries
