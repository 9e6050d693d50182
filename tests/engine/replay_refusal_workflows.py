"""Workflows for tests/engine/test_replay_and_preview_refusals.py: a failure in a child run,
a failure under asyncio.gather that is not the last step called, and runs to preview."""

from __future__ import annotations

import asyncio
import contextlib

import durable


class Boom(Exception):
    pass


@durable.step()
def a_step(x: int) -> int:
    return x + 1


@durable.step()
def failing(x: int) -> int:
    raise Boom(f"bad {x}")


@durable.workflow(name="tests.replay_refusals.flow")
def flow(x: int) -> int:
    return failing(a_step(a_step(x)))


@durable.step()
async def a_async(x: int) -> int:
    await asyncio.sleep(0)
    return x * 2


@durable.step()
async def f_async(x: int) -> int:
    raise Boom(f"async bad {x}")


@durable.workflow(name="tests.replay_refusals.gather_fail_first")
async def gather_fail_first(x: int) -> list:
    return await asyncio.gather(f_async(x), a_async(x))


@durable.workflow(name="tests.replay_refusals.child")
def child(x: int) -> int:
    return failing(x)


@durable.workflow(name="tests.replay_refusals.parent")
def parent(x: int) -> int:
    return child(a_step(x))


@durable.workflow(name="tests.replay_refusals.ok")
def ok(x: int) -> int:
    return a_step(x)


@durable.workflow(name="tests.replay_refusals.caught_then_raises")
def caught_then_raises(x: int) -> int:
    """A step's failure caught, a step that succeeds, then the code's own error."""
    with contextlib.suppress(Boom):
        failing(x)
    a_step(x)
    raise ValueError("the workflow's own error, between steps")
