"""Log lines tagged with the run, workflow, step and attempt they were written under.

The engine sets two context variables while it executes a run and each step attempt
(`durable.observability._observe`; the tags are defined in `durable.core._context`);
`ContextFilter` copies them onto every record as `run_id`, `workflow`, `step`, `position`
and `attempt` ("" outside a run). Durable installs the
filter on its "durable" logger; put it on a handler to tag user code's lines too.
`JsonFormatter` writes one JSON object per line with those fields.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# the tags live with the run context (the core sets them, primitives read the step's
# position); re-exported here, where the log filter reads them
from durable.core._context import RunTags, StepTags, current_run, current_step

__all__ = ["ContextFilter", "JsonFormatter", "RunTags", "StepTags", "current_run", "current_step"]

FIELDS = ("run_id", "workflow", "step", "position", "attempt")


def tags() -> dict[str, Any]:
    """The fields for the run and step executing on this thread ("" outside them)."""
    run, step = current_run.get(), current_step.get()
    return {
        "run_id": run.run_id if run else "",
        "workflow": run.workflow if run else "",
        "step": step.step if step else "",
        "position": step.position if step else "",
        "attempt": step.attempt if step else "",
    }


class ContextFilter(logging.Filter):
    """Adds the run's tags to each record; fields a caller passed in `extra` are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in tags().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the run's tags, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = tags()
        entry.update({name: getattr(record, name, current[name]) for name in FIELDS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def install(logger_name: str = "durable") -> None:
    """Put one ContextFilter on the logger (idempotent: app reloads don't stack them)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ContextFilter) for f in logger.filters):
        logger.addFilter(ContextFilter())
