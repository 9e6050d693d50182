"""Bulk jobs: one operator action over many runs, carried out by a run of the internal
workflow `durable.bulk_job` (`durable.operations._jobs`), so it outlives the browser tab,
the web process and any one worker."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class JobState(models.TextChoices):
    """Labels come from the names (Running, Paused, …)."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"
    ABORTED = "ABORTED"  # an operator stopped it
    STOPPED = "STOPPED"  # it stopped itself (the canary failed): see stop_reason

    @classmethod
    def over(cls) -> tuple[str, ...]:
        return (cls.FINISHED, cls.ABORTED, cls.STOPPED)


class BulkJob(models.Model):
    """A bulk action's selection, options and progress. Each batch is one checkpointed
    transaction step of the job's run, so the batch's changes, the job's new position and
    the checkpoint commit together: a batch is never done twice, a crash resumes at the
    next one."""

    id = models.UUIDField(primary_key=True)  # the start request's token: one job per request
    run_id = models.CharField(max_length=200, unique=True)  # the job's durable.bulk_job run
    actor = models.CharField(max_length=200)  # who started it: each batch is audited as them
    action = models.CharField(max_length=16)
    reason = models.CharField(max_length=500, blank=True, default="")
    run_ids = ArrayField(models.CharField(max_length=200), default=list)  # the selection
    selection = models.JSONField(default=dict, blank=True)  # how it was chosen (for people)
    include_superseded = models.BooleanField(default=False)
    # a restart or fork refuses runs restarted or forked since this time (by anyone):
    # the operator decided on what they saw then; default: the job's start
    as_of = models.DateTimeField(null=True, blank=True)
    rate = models.FloatField(null=True, blank=True)  # runs per second, None: unlimited
    concurrency = models.IntegerField(null=True, blank=True)  # its runs in flight at most
    canary = models.IntegerField(null=True, blank=True)  # do this many first, then judge
    canary_max_failed = models.FloatField(default=0.0)  # percent of the canary that may fail
    canary_passed = models.BooleanField(default=False)
    # the rate counts from here: runs acted on (done) before `paced_at` were `paced_count`
    paced_at = models.DateTimeField(null=True, blank=True)
    paced_count = models.IntegerField(default=0)
    state = models.CharField(max_length=10, choices=JobState.choices, default=JobState.RUNNING)
    stop_reason = models.TextField(blank=True, default="")
    total = models.IntegerField()
    offset = models.IntegerField(default=0)  # ids before it were processed
    done = models.IntegerField(default=0)
    refused = models.JSONField(default=dict)  # reason -> {"count", "runs" (samples)}
    skipped = models.IntegerField(default=0)  # superseded runs a restart left alone
    results = ArrayField(models.CharField(max_length=200), default=list)  # resulting runs
    samples = models.JSONField(default=dict)  # a few origin -> result pairs, for the page
    # cancels whose executor did not confirm the stop in time: reason -> {count, runs}
    unconfirmed = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=models.functions.Now())
    updated_at = models.DateTimeField(db_default=models.functions.Now())
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=JobState.values), name="bulkjob_state_valid"
            ),
        ]
        indexes = [
            # Jobs page and `durable jobs`: newest first
            models.Index(fields=["-created_at"], name="bulkjob_created_idx"),
        ]
        ordering = ["-created_at"]

    @property
    def refused_count(self) -> int:
        return sum(entry["count"] for entry in self.refused.values())

    @property
    def processed(self) -> int:
        return self.done + self.refused_count + self.skipped

    @property
    def left(self) -> int:
        return max(0, self.total - self.offset)

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))

    @property
    def finished(self) -> bool:
        return self.state in JobState.over()

    @property
    def runs_per_second(self) -> float | None:
        """The pace so far (processed runs over the time since the start)."""
        end = self.finished_at or self.updated_at
        seconds = (end - self.created_at).total_seconds() if end else 0
        return self.processed / seconds if seconds > 0 and self.processed else None

    @property
    def eta_seconds(self) -> float | None:
        rate = self.runs_per_second
        return None if self.finished or not rate else self.left / rate

    def __str__(self) -> str:
        return f"bulk {self.action} {self.id}"
