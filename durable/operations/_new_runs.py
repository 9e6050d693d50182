"""What a restart or a fork may choose for the run it creates: its id, queue, timeout and
priority (the highest lets it jump its queue's backlog: "run first").

Checked before anything is locked, so a bad value fails at the call naming the argument;
an id that is taken is refused per run when the new run is written (see `operations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from durable.core import _validation as validation
from durable.core._validation import validate_new_run_id
from durable.errors import InvalidArgumentError
from durable.queues import Queue


@dataclass(frozen=True)
class NewRunOptions:
    """None keeps what the original run had (its queue, its workflow's timeout)."""

    run_id: str | None = None
    queue: str | None = None
    timeout: float | None = None
    priority: int | None = None

    def audit(self) -> dict[str, Any]:
        """The chosen options, for the audit entry (nothing when none was chosen)."""
        chosen = {"new_run_id": self.run_id, "queue": self.queue, "timeout": self.timeout,
                  "priority": self.priority}  # fmt: skip
        return {key: value for key, value in chosen.items() if value is not None}


def new_run_options(
    run_ids: str | list[str],
    new_run_id: Any = None,
    queue: Any = None,
    timeout: Any = None,
    priority: Any = None,
) -> NewRunOptions:
    """Validated options; a chosen id names one new run, so it needs one original (the
    caller has read an iterator of ids into a list already)."""
    if new_run_id is not None:
        validate_new_run_id(new_run_id)
        if not isinstance(run_ids, str) and len(run_ids) != 1:
            raise InvalidArgumentError(
                "new_run_id", "names one new run, so act on one run at a time with it"
            )
    name = queue.name if isinstance(queue, Queue) else validation.text("queue", queue)
    chosen = None if priority is None else validation.priority(priority)
    return NewRunOptions(new_run_id, name, validation.timeout(timeout), chosen)


def id_taken(run_id: str) -> str:
    """The refusal when a chosen id belongs to a run already."""
    return (
        f"run id {run_id!r} is taken by an existing run; choose another id, or leave the new "
        "run id out for a generated one"
    )
