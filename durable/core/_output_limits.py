"""Per-step checkpoint size limits: a step that returns too much fails, visibly, instead of
writing megabytes into durable_step on every run."""

from __future__ import annotations

from durable.core._registry import StepDefinition
from durable.core.conf import settings
from durable.errors import StepOutputTooLargeError


def check(step: StepDefinition, output: str, where: str) -> None:
    """Raise when the serialized output exceeds the step's limit (or the global default)."""
    limit = step.max_output_bytes or settings.DURABLE_MAX_STEP_OUTPUT_BYTES
    if not limit:
        return
    size = len(output.encode())
    if size > limit:
        raise StepOutputTooLargeError(
            f"{where} returned {size} bytes of JSON, over its limit of {limit} "
            "(max_output_bytes or DURABLE_MAX_STEP_OUTPUT_BYTES): return a reference "
            "(a storage key, a row id) instead of the data, or raise the limit"
        )
