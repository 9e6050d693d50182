"""Cron schedules and the stored limits of durable queues."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from durable.models.fields import JSONTextField


class ScheduleSource(models.TextChoices):
    CODE = "code", "Code"  # @durable.scheduled: cron and workflow come from the code
    API = "api", "API"  # durable.schedules.create: everything lives in this row


class MissedPolicy(models.TextChoices):
    LATEST = "latest", "Run the newest missed tick"
    ALL = "all", "Run every missed tick (the newest 100)"
    SKIP = "skip", "Run no missed tick"


class Schedule(models.Model):
    """A cron schedule: its definition (for API schedules) and its progress. The conditional
    update of `last_tick_at` claims a tick; `revision` changes with every edit, so a claim
    judged on an older definition (or made while paused) does not land."""

    name = models.CharField(primary_key=True, max_length=300)
    workflow = models.CharField(max_length=300)
    source = models.CharField(
        max_length=4, choices=ScheduleSource.choices, db_default=ScheduleSource.CODE
    )
    cron = models.CharField(max_length=100)
    missed_policy = models.CharField(
        max_length=10, choices=MissedPolicy.choices, default=MissedPolicy.LATEST
    )
    # what each run receives after the tick: {"args": [...], "kwargs": {...}}
    input: Any = JSONTextField(null=True, blank=True)
    queue = models.CharField(max_length=200, null=True, blank=True)
    paused = models.BooleanField(db_default=False)
    revision = models.IntegerField(db_default=0)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    missed_ticks = models.IntegerField(default=0)
    created_at = models.DateTimeField(db_default=models.functions.Now())
    updated_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=ScheduleSource.values), name="schedule_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(missed_policy__in=MissedPolicy.values),
                name="schedule_missed_policy_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cron})"


class StoredQueue(models.Model):
    """A queue's limits, stored so that every process claims within them (durable.queues):
    `declared` is what code last declared, `override` what an operator set (it wins until
    reset); the plain columns are the effective limits that claims read."""

    name = models.CharField(primary_key=True, max_length=200)
    concurrency = models.IntegerField(null=True, blank=True)
    worker_concurrency = models.IntegerField(null=True, blank=True)
    rate_count = models.IntegerField(null=True, blank=True)
    rate_seconds = models.FloatField(null=True, blank=True)
    priority = models.BooleanField(default=False)
    declared = models.JSONField(null=True, blank=True)
    declared_by = models.CharField(max_length=300, blank=True, default="")
    declared_in = models.CharField(max_length=300, blank=True, default="")
    declared_at = models.DateTimeField(null=True, blank=True)
    notice = models.TextField(blank=True, default="")  # two declarations disagreed
    override = models.JSONField(null=True, blank=True)
    overridden_by = models.CharField(max_length=200, blank=True, default="")
    overridden_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        db_table = "durable_queue"
        constraints = [
            models.CheckConstraint(
                condition=(Q(concurrency__isnull=True) | Q(concurrency__gte=1))
                & (Q(worker_concurrency__isnull=True) | Q(worker_concurrency__gte=1))
                & (
                    Q(rate_count__isnull=True, rate_seconds__isnull=True)
                    | Q(rate_count__gte=1, rate_seconds__gt=0)
                ),
                name="durable_queue_limits_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name
