"""The dashboard's two permissions; it owns no tables of its own (it reads durable's)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

VIEW_RUNS = "dashboard.view_runs"
OPERATE_RUNS = "dashboard.operate_runs"


class DashboardAccess(models.Model):
    """A table-less anchor for the permissions: `view_runs` and `operate_runs`."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_runs", "Can view runs, steps, latency, failures and the audit log"),
            ("operate_runs", "Can cancel, resume, restart and fork runs, one or in bulk"),
        ]


class LatencyRollup(models.Model):
    """One hour of durations for one step name, workflow (run) or workflow (queue wait),
    as a log-scale histogram: long latency windows read these instead of millions of rows.

    Bucket b holds durations in [BASE**b, BASE**(b+1)) ms; `buckets` and `counts` are
    parallel arrays of the non-empty buckets.
    """

    hour = models.DateTimeField()
    kind = models.CharField(max_length=8)  # "step", "run" or "wait"
    subject = models.CharField(max_length=300)
    count = models.IntegerField()
    failed = models.IntegerField(default=0)
    buckets = ArrayField(models.SmallIntegerField())
    counts = ArrayField(models.IntegerField())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject", "hour"], name="latency_rollup_uniq"),
        ]
        indexes = [
            # latency page: every subject's hours inside a window
            models.Index(fields=["kind", "hour"], name="latency_rollup_hour_idx"),
        ]


class RollupCursor(models.Model):
    """Hours before `through` are rolled up for this kind."""

    kind = models.CharField(max_length=8, primary_key=True)
    through = models.DateTimeField()


class BulkJob(models.Model):
    """A bulk action's state between batches, kept on the server: the browser only says
    "next batch of job <id>", so nothing it sends can skew the totals or repeat a batch.

    Each batch runs in one transaction with the job row locked (FOR UPDATE): the batch's
    changes and the job's new position commit together, and a repeated request waits,
    then continues from where the first left off.
    """

    id = models.UUIDField(primary_key=True)  # the preview form's token: one job per preview
    owner = models.CharField(max_length=150)
    action = models.CharField(max_length=16)
    scope = models.CharField(max_length=16)
    run_ids = ArrayField(models.CharField(max_length=200), default=list)
    params = models.JSONField(default=dict)  # the filter, as RunFilterForm fields
    as_of = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True, default="")  # for the audit log
    # a restart skips runs already restarted or forked unless the operator ticked this
    include_superseded = models.BooleanField(default=False)
    total = models.IntegerField()
    offset = models.IntegerField(default=0)
    cursor = models.TextField(blank=True, default="")
    done = models.IntegerField(default=0)
    refused = models.JSONField(default=dict)
    skipped = models.IntegerField(default=0)  # superseded runs a restart left alone
    results = models.JSONField(default=dict)
    # cancels whose executor did not confirm the stop in time: reason -> {count, runs}
    unconfirmed = models.JSONField(default=dict)
    finished = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def refused_count(self) -> int:
        return sum(entry["count"] for entry in self.refused.values())

    @property
    def processed(self) -> int:
        return self.done + self.refused_count + self.skipped

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))


class TokenScope(models.TextChoices):
    VIEW = "view", "view"
    OPERATE = "operate", "operate"


class ApiToken(models.Model):
    """A user's token for the HTTP API (`dashboard.api`). Only a SHA-256 digest of the
    secret is kept (the secret is 256 random bits, so no slow hash is needed); `prefix`
    names the token in lists and in the audit log. A token never grants more than its
    user holds at the time of each request."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64, unique=True)  # token auth: one probe of this index
    scope = models.CharField(max_length=8, choices=TokenScope.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=["view", "operate"]), name="api_token_scope_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name}, {self.scope})"
