"""Rows of the primitives beyond steps: messages to runs, events from runs, streams."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from durable.models._runs import Run
from durable.models.fields import JSONTextField


class Message(models.Model):
    """A message sent to a run; consumed exactly once, into the receiving run's history."""

    run = models.ForeignKey(  # served by message_pending_idx and message_run_idx
        Run, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    topic = models.CharField(max_length=200, blank=True, default="")
    payload: Any = JSONTextField(null=True)
    created_at = models.DateTimeField(db_default=models.functions.Now())
    consumed_at = models.DateTimeField(null=True, blank=True)
    consumed_position = models.IntegerField(null=True, blank=True)
    # send(…, idempotency_key=…): a second send with the key to the same run is dropped
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        constraints = [
            # send with a key: the insert that conflicts here is the duplicate, not delivered
            models.UniqueConstraint(
                fields=["run", "idempotency_key"],
                name="message_run_idempotency_uniq",
                condition=Q(idempotency_key__isnull=False),
            )
        ]
        indexes = [
            # prune and run detail: every message of a run
            models.Index(fields=["run"], name="message_run_idx"),
            # recv: the oldest unconsumed message of a run on a topic
            models.Index(
                fields=["run", "topic", "id"],
                name="message_pending_idx",
                condition=Q(consumed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} to {self.run_id} ({self.topic or 'default'})"


class Event(models.Model):
    """A key/value a run publishes (progress, approvals); readers poll it from outside."""

    run = models.ForeignKey(  # served by event_run_key_uniq
        Run, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    key = models.CharField(max_length=200)
    value: Any = JSONTextField(null=True)
    updated_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="event_run_key_uniq")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.key}"


class StepEvent(models.Model):
    """An event a step set (`set_event` inside a step is no history entry of its own): the
    record a fork replays, in order, to carry the events of the steps it copies."""

    run = models.ForeignKey(  # served by stepevent_run_position_idx
        Run, on_delete=models.CASCADE, related_name="step_events", db_index=False
    )
    position = models.IntegerField()  # the step that set it
    key = models.CharField(max_length=200)
    value: Any = JSONTextField(null=True)
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        indexes = [
            # fork: the events the steps before the fork point set, in order; prune by run
            models.Index(fields=["run", "position", "id"], name="stepevent_run_position_idx")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.position}:{self.key}"


class StreamEntry(models.Model):
    """One value appended to a run's named stream (progress, LLM tokens), read in order.

    Offsets of a stream count from 0 with no gaps; the last entry of a closed stream is
    its close marker (`closed`, no value). `position` is the history entry (a workflow
    body's write) or the step that wrote it, `attempt` that step's attempt (0: the body).
    """

    pk = models.CompositePrimaryKey("run", "key", "offset")
    run = models.ForeignKey(  # served by the primary key (run, key, offset)
        Run, on_delete=models.CASCADE, related_name="stream_entries", db_index=False
    )
    key = models.CharField(max_length=200)
    offset = models.IntegerField()
    value: Any = JSONTextField(null=True)
    closed = models.BooleanField(default=False)
    position = models.IntegerField()
    attempt = models.IntegerField(default=0)
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        verbose_name_plural = "stream entries"

    def __str__(self) -> str:
        return f"{self.run_id}:{self.key}#{self.offset}"
