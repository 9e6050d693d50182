"""`async def` steps inside an async workflow: the position is taken at the call, the body
awaited on the run's event loop, the checkpoint written on the run thread.

Taking the position when the step function is *called* (not when its coroutine first
runs) is what makes `asyncio.gather(a(), b(), c())` record a, b, c at p, p+1, p+2 whatever
order they finish in, and hand each recorded output back to its own call on a replay.
The checkpoint is the same single write as a sync step's (`StepCall.checkpoint`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from typing import Any

from durable.core import _async_runs as async_runs
from durable.core import _context as context
from durable.core import _history as history
from durable.core import _step_logs as step_logs
from durable.core._context import RecordedStep, RunContext, RunInterrupted
from durable.core._registry import StepDefinition
from durable.core._serialization import entry_input
from durable.core._steps import StepCall
from durable.errors import SerializationError, StepTimeoutError
from durable.observability import _observe as observe


def call_step(
    run_context: RunContext, step: StepDefinition, args: tuple, kwargs: dict
) -> Coroutine[Any, Any, Any]:
    """Take the step's position now; return the coroutine that replays or runs it."""
    async_runs.check_not_waiting(f"step {step.name}")
    where = f"workflow {run_context.workflow.name} run {run_context.run_id} step {step.name}"
    step_input = entry_input({"args": list(args), "kwargs": kwargs}, where=f"{where} input")
    position = run_context.next_position(on_loop=True)
    recorded = run_context.recorded.get(position)
    if recorded is not None:  # checked on the run thread: a mismatch reads the recorded input
        async_runs.call_blocking(
            history.check_same_call, run_context, position, recorded, step.name, step_input
        )
        return _replayed(recorded)
    return AsyncStepCall(run_context, step, position, args, kwargs, step_input).execute_async()


async def _replayed(recorded: RecordedStep) -> Any:
    return recorded.replay()


class AsyncStepCall(StepCall):
    """A StepCall whose body is awaited; failures, retries and the checkpoint are shared."""

    async def execute_async(self) -> Any:
        await self._check_interrupted()
        while True:
            self.begin_attempt()
            try:
                with observe.attempt(self.step.name, self.position, self.attempt):
                    return await self._logged_attempt()
            except (RunInterrupted, SerializationError):
                raise  # not the step's failure: nothing is recorded, the call itself fails
            except Exception as exc:
                wait = await async_runs.on_run_thread(self.after_failure, exc)
                if await asyncio.to_thread(self.run_context.cancelled.wait, wait):
                    raise RunInterrupted(self.run_context.run_id) from exc
                await async_runs.on_run_thread(self.before_retry)
                await self._check_interrupted()
                self.attempt += 1

    async def _logged_attempt(self) -> Any:
        """The attempt's log records are buffered in its own task (steps of a gather apart)
        and handed, on the run thread, to the same write as a sync step's."""
        buffer, token = step_logs.begin()
        self.logs = buffer  # carried by the checkpoint; what it did not carry, kept below
        try:
            result = await self._await_body()
            return await async_runs.on_run_thread(self.checkpoint, result)
        finally:
            step_logs.end(buffer, token)
            if buffer is not None:
                run_id, position, attempt = self.run_context.run_id, self.position, self.attempt
                await async_runs.on_run_thread(step_logs.keep, run_id, position, attempt, buffer)

    async def _check_interrupted(self) -> None:
        """Cancel, shutdown and deadline checks; a deadline reads the clock, which may need
        the database, so that check runs on the run thread."""
        if self.run_context.deadline_at is None:
            self.run_context.check_interrupted()
        else:
            await async_runs.on_run_thread(self.run_context.check_interrupted)

    async def _await_body(self) -> Any:
        """The body sees its run marked in a step, so durable calls inside it are plain
        calls, as in a sync step: a copy per body, so steps running side by side (and the
        workflow between them) do not see each other's flag."""
        token = context.activate(dataclasses.replace(self.run_context, in_step=True))
        try:
            body = self.step.func(*self.args, **self.kwargs)
            if self.step.timeout is None:
                return await body
            try:
                return await asyncio.wait_for(body, self.step.timeout)
            except TimeoutError as exc:
                raise StepTimeoutError(
                    f"{self.where}: attempt {self.attempt} ran longer than its timeout of "
                    f"{self.step.timeout}s and was cancelled"
                ) from exc
        finally:
            context.deactivate(token)
