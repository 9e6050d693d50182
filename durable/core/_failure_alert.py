"""`failure_group_alert`: a Django signal when a failure group appears or grows past a
threshold, for handlers that page someone (docs/monitoring.md has a webhook example).
Here, below the run loop that sends it; its public name is `durable.observability.alerts`.

A failure group is the failed runs of one workflow with one error fingerprint (the
dashboard's failure hotspots). Checked when a run fails, with one indexed count, and only
if some receiver is connected: successful steps and runs pay nothing.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.dispatch import Signal

from durable.core._serialization import fingerprint
from durable.core.conf import settings
from durable.core.store import _monitoring as store_monitoring

logger = logging.getLogger("durable")

# sent with: workflow, fingerprint, error_type, message, run_id, count, threshold,
# window_seconds, reason ("appeared" or "threshold")
failure_group_alert = Signal()


def run_failed(run_id: str, workflow: str, error: dict) -> None:
    """Send the signal when this failure makes its group appear or reach the threshold.

    Counted after the run's own ERROR is written, so each crossing is seen by the run that
    made it; two runs failing in the same instant may both see (and send) the same count.
    """
    if not failure_group_alert.has_listeners():
        return
    window = float(settings.DURABLE_ALERT_WINDOW_SECONDS)
    threshold = int(settings.DURABLE_ALERT_THRESHOLD)
    group = fingerprint(error["type"], error["message"])
    try:
        count = store_monitoring.failure_group_count(group, workflow, window)
    except DatabaseError as exc:  # the run's ERROR is written; an alert never undoes that
        logger.warning("run %s: failure alert check skipped (%s)", run_id, exc)
        return
    reason = "appeared" if count == 1 else "threshold" if count == threshold else None
    if reason is None:
        return
    for receiver, response in failure_group_alert.send_robust(
        sender=workflow,
        workflow=workflow,
        fingerprint=group,
        error_type=error["type"],
        message=error["message"],
        run_id=run_id,
        count=count,
        threshold=threshold,
        window_seconds=window,
        reason=reason,
    ):
        if isinstance(response, Exception):
            logger.warning("failure alert receiver %r failed: %r", receiver, response)
