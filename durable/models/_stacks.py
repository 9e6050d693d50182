"""Seeing inside a run: live stack requests (an operator asks where a running run is, its
owner answers) and the log records its steps emitted.

The request travels through PostgreSQL, not a port: the operator inserts a row, the owning
executor's lifeline heartbeat finds it (`durable.executors._stacks`) and writes the answer.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Cast, Upper

from durable.models._runs import RunPartitioned


class StackRequest(models.Model):
    """One "where is it now?" question about a run, and the owner's answer once given."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(
        "durable.Run", on_delete=models.CASCADE, related_name="stack_requests", db_index=False
    )
    include_locals = models.BooleanField(default=False)
    requested_by = models.CharField(max_length=150, blank=True, default="")
    requested_at = models.DateTimeField(db_default=models.functions.Now())
    answered_at = models.DateTimeField(null=True, blank=True)
    executor_id = models.CharField(max_length=200, blank=True, default="")
    # {"threads": [{"thread": name, "hung": bool, "frames": [{file, line, function,
    # source, locals?}]}]}, or {"error": "..."} when the owner no longer executes the run
    answer = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            # at most one pending question per run (ask_stack joins it); also serves the
            # heartbeat's pending_stack_requests: `run_id = ANY(…) AND answered_at IS NULL`
            models.UniqueConstraint(
                fields=["run"], name="stackreq_one_pending", condition=models.Q(answered_at=None)
            ),
        ]

    def __str__(self) -> str:
        return f"stack of {self.run_id} ({self.requested_at:%H:%M:%S})"


class LogMessages(models.Func):
    """The messages of a batch's records as one JSON array (no keys, levels or times): what
    the runs list's log search reads, and what its trigram index holds."""

    template = "jsonb_path_query_array(%(expressions)s, '$[*].message'::jsonpath)"
    output_field = models.JSONField()


def log_search_text() -> Upper:
    """The indexed expression; a query must spell it exactly so for the index to serve it."""
    return Upper(Cast(LogMessages("records"), models.TextField()))


class StepLog(RunPartitioned):
    """The log records one attempt of a step emitted (bounded), written in one statement
    when the attempt ends, and only if it logged anything (`durable.core._step_logs`)."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(
        "durable.Run",
        on_delete=models.CASCADE,
        related_name="step_logs",
        db_index=False,
        db_constraint=False,
    )
    position = models.IntegerField()
    attempt = models.IntegerField()
    # [{"at": iso time, "level": "INFO", "logger": name, "message": text}, …]
    records = models.JSONField(default=list)
    dropped = models.IntegerField(default=0)  # records past the count or byte bound
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        indexes = [
            # the run page and `durable logs RUN_ID [--step N] [--follow]`
            models.Index(fields=["run", "position", "attempt", "id"], name="steplog_run_idx"),
            # the runs list's log search: UPPER(messages::text) LIKE '%DECLINED%'
            GinIndex(OpClass(log_search_text(), name="gin_trgm_ops"), name="steplog_message_trgm"),
        ]
