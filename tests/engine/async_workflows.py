"""Async workflows the engine tests run; importable by worker subprocesses (DURABLE_MODULES)."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async

import durable
from tests.conftest import record_side_effect
from tests.engine.workflows import Boom, txn_note

# label -> seconds an async note sleeps before it returns (tests set it to order finishes)
DELAYS: dict[str, float] = {}
FAILURES: dict[str, int] = {}  # run id -> attempts of `flaky_async` that still fail


@durable.step(name="tests.async.note")
async def async_note(run_id: str, label: str) -> str:
    """A side effect (through Django's sync_to_async, so on the run's database thread)."""
    await asyncio.sleep(DELAYS.get(label, 0))
    await sync_to_async(record_side_effect)(run_id, label)
    return f"{label}!"


@durable.step(name="tests.async.echo")
async def echo(value):
    await asyncio.sleep(0)
    return value


@durable.step(name="tests.async.sync_add")
def sync_add(a: int, b: int) -> int:
    return a + b


@durable.step(name="tests.async.flaky", retries=2, retry_delay=0.01)
async def flaky_async(run_id: str) -> str:
    await sync_to_async(record_side_effect)(run_id, "flaky-attempt")
    if FAILURES.get(run_id, 0) > 0:
        FAILURES[run_id] -= 1
        raise Boom(f"attempt failed, {FAILURES[run_id]} more to fail")
    return "ok"


@durable.workflow(name="tests.async.pipeline")
async def pipeline(run_id: str) -> list:
    """An awaited async step, a sync step, a gather of three, then one more step."""
    first = await async_note(run_id, "first")
    total = sync_add(1, 2)
    gathered = await asyncio.gather(
        async_note(run_id, "a"), async_note(run_id, "b"), async_note(run_id, "c")
    )
    last = await async_note(run_id, "last")
    return [first, total, gathered, last]


@durable.workflow(name="tests.async.roundtrip")
async def roundtrip(value):
    return await echo(value)


@durable.workflow(name="tests.async.retrying")
async def retrying(run_id: str) -> str:
    return await flaky_async(run_id)


@durable.workflow(name="tests.async.sleep_then_note")
async def sleep_then_note(run_id: str, seconds: float) -> str:
    await durable.sleep_async(seconds)
    return await async_note(run_id, "after-sleep")


@durable.workflow(name="tests.async.receiver")
async def receiver(timeout: float) -> list:
    return [await durable.recv_async(timeout=timeout), await durable.recv_async("x", timeout=0.2)]


@durable.workflow(name="tests.async.child")
async def async_child(run_id: str) -> str:
    return await async_note(run_id, "child-ran")


@durable.workflow(name="tests.async.parent")
async def parent(run_id: str) -> str:
    handle = await durable.start_async(async_child, run_id)
    durable_value = await handle.result_async(timeout=30)
    await durable.set_event_async("child", durable_value)
    return durable_value


@durable.workflow(name="tests.async.crash_ledger")
async def async_crash_ledger(run_id: str, count: int, seconds: float) -> int:
    """Per iteration: two async steps side by side, then an exactly-once transaction."""
    for index in range(count):
        DELAYS[f"x-{index}"] = DELAYS[f"y-{index}"] = seconds
        await asyncio.gather(async_note(run_id, f"x-{index}"), async_note(run_id, f"y-{index}"))
        txn_note(run_id, f"txn-{index}")
    return count


@durable.workflow(name="tests.async.slow")
async def slow(run_id: str, count: int, seconds: float) -> int:
    for index in range(count):
        DELAYS[f"slow-{index}"] = seconds
        await async_note(run_id, f"slow-{index}")
    return count


@durable.step(name="tests.async.boom")
async def boom(message: str) -> None:
    raise Boom(message)


@durable.workflow(name="tests.async.fails")
async def fails(message: str) -> None:
    await boom(message)


INPUTS: dict[str, int] = {}  # run id -> what `echo_then_fail` passes to its step


@durable.workflow(name="tests.async.echo_then_fail")
async def echo_then_fail(run_id: str) -> None:
    await echo(INPUTS[run_id])
    raise Boom("the first run stops here")


@durable.step(name="tests.async.always_fails", retries=3, retry_delay=30)
async def always_fails() -> None:
    raise Boom("always")


@durable.workflow(name="tests.async.backing_off")
async def backing_off() -> None:
    await always_fails()


@durable.step(name="tests.async.hangs", timeout=0.2)
async def hangs() -> None:
    await asyncio.sleep(10)


@durable.workflow(name="tests.async.hanging")
async def hanging() -> None:
    await hangs()


@durable.workflow(name="tests.async.sync_sleep")
async def sync_sleep() -> None:
    durable.sleep(0.1)


@durable.workflow(name="tests.async.chain")
async def chain(count: int) -> int:
    for index in range(count):
        await echo(index)
    return count


@durable.workflow(name="tests.async.gathered_chain")
async def gathered_chain(count: int) -> int:
    return len(await asyncio.gather(*[echo(index) for index in range(count)]))


@durable.step(name="tests.async.sync_echo")
def sync_echo(value):
    return value


@durable.workflow(name="tests.async.sync_chain")
def sync_chain(count: int) -> int:
    for index in range(count):
        sync_echo(index)
    return count


@durable.workflow(name="tests.async.fan_out")
async def fan_out(run_id: str, count: int) -> list:
    """Children started side by side, then awaited side by side."""
    starts = [durable.start_async(async_child, f"{run_id}-{i}") for i in range(count)]
    handles = await asyncio.gather(*starts)
    return await asyncio.gather(*[handle.result_async() for handle in handles])


@durable.workflow(name="tests.async.sleep_beside_a_step")
async def sleep_beside_a_step(run_id: str, seconds: float) -> list:
    DELAYS["beside"] = seconds
    done = await asyncio.gather(durable.sleep_async(seconds), async_note(run_id, "beside"))
    return [*done, await async_note(run_id, "after")]


@durable.workflow(name="tests.async.two_sequences")
async def two_sequences(run_id: str) -> list:
    """Two branches of two steps each: which branch's second step comes first is timing."""

    async def branch(first: str, second: str) -> list:
        return [await async_note(run_id, first), await async_note(run_id, second)]

    return await asyncio.gather(branch("s1", "s2"), branch("s3", "s4"))


@durable.workflow(name="tests.async.calls_children")
async def calls_children(run_id: str) -> list:
    """Child workflows called directly and awaited side by side (async and sync ones)."""
    from tests.engine.workflows import sum_three

    return await asyncio.gather(async_child(f"{run_id}-a"), sum_three(1, 2, 3))


@durable.workflow(name="tests.async.sync_parent_of_async")
def sync_parent_of_async(run_id: str) -> str:
    return async_child(run_id)


@durable.step(name="tests.async.inner_sync")
def inner_sync(value: int) -> int:
    return value + 1


@durable.step(name="tests.async.calls_a_step_inside")
async def calls_a_step_inside(value: int) -> int:
    await asyncio.sleep(0.05)
    return inner_sync(value)  # inside a step: a plain call, not a checkpoint


@durable.workflow(name="tests.async.nested_and_beside")
async def nested_and_beside() -> list:
    """While one step's body runs (and calls another step plainly), the workflow calls more."""
    task = asyncio.ensure_future(calls_a_step_inside(1))
    await asyncio.sleep(0.01)
    beside = await echo("beside")  # called while the first body runs: still a checkpoint
    return [await task, beside]
