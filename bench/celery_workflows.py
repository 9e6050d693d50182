"""The workflow `celery_throughput.py` times; Celery workers import it (DURABLE_MODULES)."""

from __future__ import annotations

import durable


@durable.step(name="bench.celery.noop")
def noop(index: int) -> int:
    return index


@durable.workflow(name="bench.celery.steps")
def steps(count: int) -> int:
    """`count` no-op steps: one checkpoint each, so the run measures the engine, not work."""
    for index in range(count):
        noop(index)
    return count
