"""Running one periodic task isolated from the others: its failure is logged and the
others go on. Below every user (the executors' timed duties, the schedule ticker, the
sweeper), so none of them imports another's layer for it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import connection

logger = logging.getLogger("durable")


def run_isolated(name: str, func: Callable[[], Any]) -> Any:
    """Run one duty; a failure is logged (with what to fix) instead of stopping the others."""
    try:
        return func()
    except Exception:
        logger.exception("timed duty %r failed; the executor's other duties go on", name)
        if connection.connection is not None and not connection.is_usable():
            connection.close()
        return None
