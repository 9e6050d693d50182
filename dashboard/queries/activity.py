"""The audit log and the executors: small tables read newest first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, JSONField, Min, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from durable import queues as durable_queues
from durable.models import AuditEntry, Executor, Run, RunStatus

AUDIT_PAGE = 50
ALIVE_WITHIN = timedelta(seconds=30)


PATCH_SHOWN_BYTES = 64 * 1024

# What the pages show of an entry's detail: never the edited input (args, kwargs: it is in
# the new run), and the patched outputs only when small (entries written before previews
# held whole values; pg_column_size of the extracted value needs no text conversion)
SHOWN_DETAIL = """
CASE WHEN pg_column_size(detail -> 'patch') > %s THEN detail - 'args' - 'kwargs' - 'patch'
     ELSE detail - 'args' - 'kwargs' END
"""


def shown(entries: QuerySet[AuditEntry]) -> list[AuditEntry]:
    """The entries with `detail` bounded to what a page shows (see SHOWN_DETAIL)."""
    rows = entries.defer("detail").annotate(
        shown_detail=RawSQL(SHOWN_DETAIL, [PATCH_SHOWN_BYTES], output_field=JSONField())
    )
    result = list(rows)
    for entry in result:
        entry.detail = entry.shown_detail
    return result


def audit_entries(
    actor: str = "", action: str = "", run_id: str = "", before_id: int | None = None
) -> list[AuditEntry]:
    """Newest first (audit_created_idx); a run id filter uses audit_run_ids_gin."""
    entries: QuerySet[AuditEntry] = AuditEntry.objects.order_by("-created_at", "-id")
    if actor:
        entries = entries.filter(actor=actor)
    if action:
        entries = entries.filter(action=action)
    if run_id:
        entries = entries.filter(run_ids__contains=[run_id])
    if before_id is not None:
        entries = entries.filter(id__lt=before_id)
    return shown(entries[: AUDIT_PAGE + 1])


def executors() -> list[dict[str, Any]]:
    """Every known executor with whether it is alive and how many runs it holds now."""
    running = dict(
        Run.objects.filter(status=RunStatus.RUNNING)
        .order_by()
        .values_list("executor_id")
        .annotate(n=Count("id"))
    )
    alive_after = timezone.now() - ALIVE_WITHIN
    return [
        {
            "executor": executor,
            "alive": executor.last_seen_at >= alive_after,
            "running": running.get(executor.id, 0),
        }
        for executor in Executor.objects.order_by("-last_seen_at")[:200]
    ]


def queue_depths() -> list[dict[str, Any]]:
    """Enqueued and running runs per queue (partial indexes keep these sets small)."""
    rows = (
        Run.objects.filter(status__in=RunStatus.active())
        .order_by()
        .values("queue", "status")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    )
    queues: dict[str, dict[str, Any]] = {}
    for row in rows:
        queue = queues.setdefault(
            row["queue"], {"queue": row["queue"], "ENQUEUED": 0, "RUNNING": 0}
        )
        queue[row["status"]] = row["n"]
        if row["status"] == RunStatus.ENQUEUED:
            queue["oldest_enqueued"] = row["oldest"]
    return sorted(queues.values(), key=lambda queue: queue["queue"])


def stored_queues() -> list[dict[str, Any]]:
    """Each stored queue's effective limits, where they come from, and any notice."""
    return [
        {"row": row, "limits": durable_queues.limits_of(row)} for row in durable_queues.all_queues()
    ]
