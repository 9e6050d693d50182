"""No executor in this process: runs wait in PostgreSQL for `manage.py durable worker`.

For web processes that only start runs while separate worker processes execute them.
"""

from __future__ import annotations


class ExternalDispatcher:
    executor_id = "external"

    def dispatch(self, run_id: str) -> None:
        """Workers poll for ENQUEUED runs; nothing to hand over here."""

    def shutdown(self, wait: bool = True) -> None:
        """Nothing runs here."""
