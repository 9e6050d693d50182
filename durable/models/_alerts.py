"""Alerting: rules (what to watch, whom to tell), incidents (one per rule and subject while
its condition holds), deliveries (one row per attempt to reach a destination) and the
triage of failure groups (owner, acknowledgement, mute, ticket, notes).

Evaluated by the executors' timed duties (`durable.observability.alerting`); the dashboard
edits rules and triage through the same module.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class AlertKind(models.TextChoices):
    NEW_FAILURE_GROUP = "new_failure_group", "A new failure group"
    GROUP_GROWING = "group_growing", "A failure group growing faster than N per minute"
    RUNS_DEAD = "runs_dead", "Runs gone DEAD"
    QUEUE_WAIT = "queue_wait", "A queue whose oldest due run waits longer than T seconds"
    UNSERVED = "unserved", "A version or queue nobody serves"
    EXECUTOR_LOST = "executor_lost", "An executor lost"


class AlertSource(models.TextChoices):
    DASHBOARD = "dashboard", "Dashboard"
    SETTINGS = "settings", "Settings (DURABLE_ALERT_RULES, read-only)"


class AlertRule(models.Model):
    """What to watch (kind, scope, threshold) and whom to tell (destinations).

    `destinations` holds secrets (webhook URLs, routing keys): never render or log it whole;
    `durable.observability.alerting.masked` is the only way out.
    """

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    source = models.CharField(
        max_length=16, choices=AlertSource.choices, default=AlertSource.DASHBOARD
    )
    enabled = models.BooleanField(default=True)
    workflow = models.CharField(max_length=300, blank=True, default="")
    queue = models.CharField(max_length=200, blank=True, default="")
    tag = models.CharField(max_length=300, blank=True, default="")  # "key=value"
    # per minute (group_growing) or seconds (queue_wait); unused by the other kinds
    threshold = models.FloatField(default=0)
    renotify_seconds = models.IntegerField(default=3600)
    destinations = models.JSONField(default=list, blank=True)
    # claimed with a conditional write: the executor whose UPDATE moves it forward evaluates
    next_evaluation_at = models.DateTimeField(db_default=models.functions.Now())
    created_by = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(db_default=models.functions.Now())
    updated_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=AlertKind.values), name="durable_alertrule_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=AlertSource.values), name="durable_alertrule_source_valid"
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class AlertIncident(models.Model):
    """One rule's condition holding for one subject (a group, queue, version or executor).

    `key` is the subject; `dedup_key` (rule and subject) is what PagerDuty and receivers
    see, the same for the trigger, every re-notification and the resolve.
    """

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="incidents")
    key = models.CharField(max_length=600)
    dedup_key = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    summary = models.CharField(max_length=1000)
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(db_default=models.functions.Now())
    last_notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # one open incident per rule and subject: a second evaluator's insert conflicts
            models.UniqueConstraint(
                fields=["rule", "key"],
                condition=Q(status="open"),
                name="alert_incident_open_uniq",
            ),
            models.CheckConstraint(
                condition=Q(status__in=IncidentStatus.values),
                name="durable_alertincident_status_valid",
            ),
        ]
        indexes = [
            # rule page: its incidents, newest first
            models.Index(fields=["rule", "-opened_at"], name="alert_incident_rule_idx"),
        ]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class AlertDelivery(models.Model):
    """One attempt to reach one destination; a failed attempt schedules the next as a new
    row (`next_attempt_at`), so the rule's delivery log shows every try."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(
        AlertIncident, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    destination = models.IntegerField()  # index into rule.destinations
    destination_kind = models.CharField(max_length=16)
    event = models.CharField(max_length=16)  # trigger, renotify, resolve, test
    attempt = models.IntegerField(default=1)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    payload = models.JSONField(default=dict, blank=True)
    response = models.CharField(max_length=500, blank=True, default="")
    next_attempt_at = models.DateTimeField(db_default=models.functions.Now())
    created_at = models.DateTimeField(db_default=models.functions.Now())
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values),
                name="durable_alertdelivery_status_valid",
            ),
        ]
        indexes = [
            # the delivery duty: pending attempts that are due, and claims left stuck
            models.Index(
                fields=["status", "next_attempt_at"],
                name="alert_delivery_due_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
            # rule page: its delivery log, newest first
            models.Index(fields=["rule", "-created_at"], name="alert_delivery_rule_idx"),
        ]


class FailureGroupTriage(models.Model):
    """What people decided about one failure group (workflow, step, error type, fingerprint,
    as the Failures page groups them): who owns it, whether it is known, muted, ticketed."""

    workflow = models.CharField(max_length=300)
    step = models.CharField(max_length=300)
    error_type = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64)
    owner = models.CharField(max_length=150, blank=True, default="")  # a Django username
    acknowledged_by = models.CharField(max_length=150, blank=True, default="")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    muted_until_version = models.CharField(max_length=100, blank=True, default="")
    ticket_url = models.URLField(max_length=500, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "step", "error_type", "fingerprint"],
                name="failure_group_triage_uniq",
            ),
        ]
