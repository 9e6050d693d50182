"""An executor's view of an operator's drain (durable.operations._drain): whether to claim new runs,
and when to release those still in flight.

Set from a notification the moment the operator acts, and from every heartbeat (the row is
the truth: a missed notification is corrected within a lease renewal).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("durable")


class OperatorDrain:
    def __init__(self, executor_id: str, on_change: Callable[[bool], None] | None = None) -> None:
        self.executor_id = executor_id
        self._on_change = on_change  # called with the new state when it flips
        self._on = threading.Event()
        self._release_at: float | None = None  # time.monotonic()
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        """Drained: claim no new runs."""
        return self._on.is_set()

    def update(self, draining: bool, release_in: float | None) -> None:
        with self._lock:
            flipped = draining != self._on.is_set()
            if flipped:
                logger.info("executor %s %s by an operator", self.executor_id,
                            "drained" if draining else "undrained")  # fmt: skip
            if draining:
                self._on.set()
            else:
                self._on.clear()
            self._release_at = (
                time.monotonic() + release_in if draining and release_in is not None else None
            )
            if flipped and self._on_change is not None:  # quick: it only schedules work
                self._on_change(draining)

    def heard(self, executor_id: str, draining: bool, release_in: float | None) -> None:
        """A notification for some executor: apply it if it is this one's."""
        if executor_id == self.executor_id:
            self.update(draining, release_in)

    def release_due(self) -> bool:
        """Drained with a release deadline that has passed: release runs left in flight."""
        with self._lock:
            return self._release_at is not None and time.monotonic() >= self._release_at
