"""`failure_group_alert`: a Django signal when a failure group appears or grows past a
threshold, for handlers that page someone (docs/monitoring.md has a webhook example).

Its public home; the core sends it when a run fails (`durable.core._failure_alert`), so the
run loop imports nothing above the core for it.
"""

from __future__ import annotations

from durable.core._failure_alert import failure_group_alert

__all__ = ["failure_group_alert"]
