"""What an ended run gives whoever waits for it: its output, or its error raised as the
engine's error type. One rule for every wait (a handle's result, a child's wait)."""

from __future__ import annotations

from typing import Any

from durable.core._serialization import error_from_dict
from durable.errors import RunCancelledError, RunDeadError


def outcome_value(
    run_id: str, status: str, output: Any, error: Any, reason: str, imported: bool = False
) -> Any:
    """An ended run's output, or its error raised: what `result()` gives, in or out of a run."""
    if status == "SUCCESS":
        return output
    if status == "ERROR":
        raise error_from_dict(error or {}, from_file=imported)  # a file's errors: the safe set
    if status == "CANCELLED":
        raise RunCancelledError(
            f"run {run_id} was cancelled{': ' + reason if reason else ''}; "
            "its checkpoints stay — resume it to continue"
        )
    message = (error or {}).get("message", "its executor died too often")
    raise RunDeadError(f"run {run_id} is DEAD: {message}")
