"""System tables: runs, step checkpoints, failed attempts, executors and the audit log.

The engine writes these with raw SQL on the hot path (`durable.core.store`); the ORM models
serve migrations, the dashboard and the admin. Each index names the query it serves.
"""

from __future__ import annotations

from durable.models._alerts import (
    AlertDelivery,
    AlertIncident,
    AlertKind,
    AlertRule,
    AlertSource,
    DeliveryStatus,
    FailureGroupTriage,
    IncidentStatus,
)
from durable.models._executors import AuditEntry, Executor, Recovery
from durable.models._jobs import BulkJob, JobState
from durable.models._primitives import Event, Message, StepEvent, StreamEntry
from durable.models._runs import (
    Attempt,
    HistoryQuerySet,
    Run,
    RunStatus,
    Step,
    StepKind,
    StepStatus,
    created_within_q,
    creation_spans,
)
from durable.models._schedules import MissedPolicy, Schedule, ScheduleSource, StoredQueue
from durable.models._stacks import StackRequest, StepLog, log_search_text

__all__ = [
    "RunStatus",
    "StepKind",
    "StepStatus",
    "Run",
    "Step",
    "Attempt",
    "HistoryQuerySet",
    "created_within_q",
    "creation_spans",
    "Executor",
    "AuditEntry",
    "BulkJob",
    "JobState",
    "Recovery",
    "Message",
    "Event",
    "StepEvent",
    "StreamEntry",
    "ScheduleSource",
    "MissedPolicy",
    "Schedule",
    "StoredQueue",
    "AlertKind",
    "AlertSource",
    "AlertRule",
    "IncidentStatus",
    "AlertIncident",
    "DeliveryStatus",
    "AlertDelivery",
    "FailureGroupTriage",
    "StackRequest",
    "StepLog",
    "log_search_text",
]
