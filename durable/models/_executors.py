"""Executors (who owns runs, and their heartbeats) and the audit log of operator actions."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class Executor(models.Model):
    """A live (or recently live) executor: a thread pool or a Celery worker process."""

    id = models.CharField(primary_key=True, max_length=200)
    kind = models.CharField(max_length=20)
    hostname = models.CharField(max_length=200)
    pid = models.IntegerField()
    workflows = ArrayField(models.CharField(max_length=300), default=list)
    started_at = models.DateTimeField(db_default=models.functions.Now())
    last_seen_at = models.DateTimeField(db_default=models.functions.Now())
    # an operator drained it (operations.drain_executor): it claims no new runs and lets
    # those in flight finish; it learns at once (NOTIFY) or at its next heartbeat
    draining = models.BooleanField(default=False, db_default=False)
    # drain_executor(release_after=…): past this time, runs still in flight are released
    drain_release_at = models.DateTimeField(null=True, blank=True)
    # how many runs it executes at once (a thread executor's threads), announced at start;
    # null when unknown (a Celery worker: its pool decides)
    threads = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return self.id


class AuditEntry(models.Model):
    """Who did which operator action to which runs, and what came of it."""

    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=40)
    run_ids = ArrayField(models.CharField(max_length=200), default=list)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        indexes = [
            # audit page, newest first
            models.Index(fields=["-created_at"], name="audit_created_idx"),
            # run detail: the actions taken on one run
            GinIndex(fields=["run_ids"], name="audit_run_ids_gin"),
        ]
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {len(self.run_ids)} run(s)"


class Recovery(models.Model):
    """One death verdict on a run's owner: who was declared dead, when, and what came of
    it — the run page says from these why a run was recovered or went DEAD."""

    run = models.ForeignKey(  # served by recovery_run_idx
        "durable.Run", on_delete=models.CASCADE, related_name="recoveries", db_index=False
    )
    executor_id = models.CharField(max_length=200)
    hostname = models.CharField(max_length=200, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True)
    # the dead owner's last heartbeat (None: no executor row was left)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(db_default=models.functions.Now())
    # "ENQUEUED" (taken over) or "DEAD" (recoveries exhausted)
    outcome = models.CharField(max_length=16)
    # the owner later found the run taken from it: it was alive (a GIL-holding call, a
    # frozen process, a lost lifeline connection), not dead
    owner_alive_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # run page and `durable show`: a run's recoveries in order
            models.Index(fields=["run", "recovered_at"], name="recovery_run_idx"),
            # an owner that finds its runs taken marks its own verdicts
            models.Index(fields=["executor_id"], name="recovery_executor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.executor_id} declared dead at {self.recovered_at}"
