"""The workflows the suite times on Durable; `dbos_side.py` defines the same ones on DBOS.

Timestamps go to in-process dicts keyed by a token the caller passes in: the thread
executor runs workflows in this process, and timing is no part of a workflow's history.
"""

from __future__ import annotations

import time

import durable

STEP_MARKS: dict[str, list[float]] = {}
FIRST_STEP_AT: dict[str, float] = {}


@durable.step(name="bench.noop")
def noop() -> None:
    return None


@durable.step(name="bench.first")
def first(token: str) -> None:
    FIRST_STEP_AT[token] = time.perf_counter()


@durable.workflow(name="bench.many_steps")
def many_steps(steps: int, token: str) -> int:
    """`steps` no-op steps; the time between consecutive step returns is one step's cost."""
    marks = STEP_MARKS.setdefault(token, [])
    marks.append(time.perf_counter())
    for _ in range(steps):
        noop()
        marks.append(time.perf_counter())
    return steps


@durable.workflow(name="bench.five_steps")
def five_steps() -> int:
    for _ in range(5):
        noop()
    return 5


@durable.workflow(name="bench.first_step")
def first_step(token: str) -> None:
    first(token)


@durable.workflow(name="bench.one_step")
def one_step() -> int:
    """One no-op step: `durable.run` of it is the cost of a whole run, start to result."""
    noop()
    return 1
