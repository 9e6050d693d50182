"""Runs and their history: run and step statuses, runs, step checkpoints and failed attempts.

The engine writes these with raw SQL on the hot path (`durable.core.store`); the ORM models
serve migrations, the dashboard and the admin. Each index names the query it serves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast, Upper

from durable.models.constraints import one_of
from durable.models.fields import JSONTextField


class RunStatus(models.TextChoices):
    ENQUEUED = "ENQUEUED", "Enqueued"
    RUNNING = "RUNNING", "Running"
    SUCCESS = "SUCCESS", "Success"
    ERROR = "ERROR", "Error"
    CANCELLED = "CANCELLED", "Cancelled"
    DEAD = "DEAD", "Dead"

    # mypy reads a TextChoices member as its (value, label) tuple: hence the ignores below
    @classmethod
    def terminal(cls) -> tuple[str, ...]:
        return (cls.SUCCESS, cls.ERROR, cls.CANCELLED, cls.DEAD)  # type: ignore[return-value]

    @classmethod
    def resumable(cls) -> tuple[str, ...]:
        return (cls.ERROR, cls.CANCELLED, cls.DEAD)  # type: ignore[return-value]

    @classmethod
    def active(cls) -> tuple[str, ...]:
        return (cls.ENQUEUED, cls.RUNNING)  # type: ignore[return-value]


class StepKind(models.TextChoices):
    """What an entry in a run's history is; primitives add kinds, never new tables."""

    STEP = "step", "Step"
    TRANSACTION = "transaction", "Transaction"
    CHILD = "child", "Child workflow"
    SLEEP = "sleep", "Sleep"
    SEND = "send", "Send"
    RECV = "recv", "Receive"
    SET_EVENT = "set_event", "Set event"
    GET_EVENT = "get_event", "Get event"
    WAIT = "wait", "Wait for a run"  # handle.result(timeout=…): the recorded deadline
    STREAM = "stream", "Stream write"  # write_stream / close_stream from a workflow body


class StepStatus(models.TextChoices):
    SUCCESS = "SUCCESS", "Success"
    ERROR = "ERROR", "Error"


class Run(models.Model):
    id = models.CharField(primary_key=True, max_length=200)
    workflow = models.CharField(max_length=300)
    version = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.ENQUEUED)
    # payloads are `json`: replay returns the text that was written (durable/models/fields.py)
    # the decoded JSON value (without django-stubs mypy would read the field object)
    input: Any = JSONTextField(default=dict)
    output: Any = JSONTextField(null=True, blank=True)
    error: Any = JSONTextField(null=True, blank=True)
    error_type = models.CharField(max_length=300, blank=True, default="")
    error_fingerprint = models.CharField(max_length=64, blank=True, default="")
    tags = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=200, default="default")
    priority = models.IntegerField(default=0)
    # at most one active (ENQUEUED or RUNNING) run per (queue, dedup_id)
    dedup_id = models.CharField(max_length=200, null=True, blank=True)
    # Foreign keys below get plain indexes in Meta (not Django's extra LIKE-pattern copies)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        db_index=False,
    )
    forked_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="forks",
        db_index=False,
    )
    forked_from_step = models.IntegerField(null=True, blank=True)
    executor_id = models.CharField(max_length=200, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    recovery_count = models.IntegerField(default=0)
    # executor deaths this run survives (its workflow's or start's max_recoveries); NULL:
    # DURABLE_MAX_RECOVERIES. Stored, so any executor's recovery sweep applies it
    max_recoveries = models.IntegerField(null=True, blank=True)
    # failed attempts of the step a resume re-runs, made before that resume: a resume grants
    # a fresh retry budget (attempt numbers go on counting), a recovery does not
    attempts_before_resume = models.IntegerField(default=0, db_default=0)
    # attempts lost to an executor's death, by the position it was at (the first without a
    # checkpoint): {"3": [attempt number it had, deaths there since the last resume]}, so
    # the step run again there gets the next number and its retries are not spent by deaths
    lost_attempts = models.JSONField(
        default=dict, db_default=models.Value({}, output_field=models.JSONField())
    )
    # checkpoints recorded as of the run's last status change (not updated per step, to keep
    # checkpoints to one insert); a running run's live count is its durable_step rows
    steps_done = models.IntegerField(default=0)
    # time spent executing steps and attempts (not queued, sleeping or parked in ERROR),
    # written with the run's final status (`durable.core.store._durations.ACTIVE_MS_SQL`);
    # NULL while live
    active_ms = models.FloatField(null=True, blank=True)
    available_at = models.DateTimeField(db_default=models.functions.Now())
    deadline_at = models.DateTimeField(null=True, blank=True)
    # how long the run had from its start (its timeout, or less where its parent's deadline
    # came first): a resume, restart or fork gives it that again, counted from then (a
    # delayed run's deadline lies its delay later); NULL without a timeout, or on rows
    # written before this column, which fall back to deadline_at - created_at
    timeout_seconds = models.FloatField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True, default="")
    # held by an operator (`durable.operations.hold`): no executor claims it, and a running
    # one stops at its next step boundary, until released (held_at back to NULL)
    held_at = models.DateTimeField(null=True, blank=True)
    hold_reason = models.TextField(blank=True, default="", db_default="")
    # cancelled because its parent was (the cascade, or a deadline inherited from it): a
    # resume of the parent resumes it too, unlike a child an operator cancelled on its own
    cancelled_with_parent = models.BooleanField(default=False, db_default=False)
    # loaded by `durable import` from a file: a record, not work. Never adopted by a start
    # with its id; it runs again only when an operator resumes or forks it
    imported = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(db_default=models.functions.Now())
    started_at = models.DateTimeField(null=True, blank=True)
    # the last time an executor took the run (first start, resume, recovery, wake-up): each
    # of those starts counts against its queue's rate limit
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=one_of("status", RunStatus.values), name="durable_run_status_valid"
            ),
            # durable.start(..., dedup_id=…): a second active run with the id is refused
            models.UniqueConstraint(
                fields=["queue", "dedup_id"],
                name="run_queue_dedup_uniq",
                condition=Q(status__in=["ENQUEUED", "RUNNING"], dedup_id__isnull=False),
            ),
        ]
        indexes = [
            # run detail and cancel_tree: the children of a run, the forks of a run
            models.Index(
                fields=["parent"], name="run_parent_idx", condition=Q(parent__isnull=False)
            ),
            models.Index(
                fields=["forked_from"],
                name="run_forked_from_idx",
                condition=Q(forked_from__isnull=False),
            ),
            # runs list, newest first, optionally by status / workflow (keyset on created_at, id)
            models.Index(fields=["-created_at", "-id"], name="run_created_idx"),
            models.Index(fields=["status", "-created_at", "-id"], name="run_status_created_idx"),
            models.Index(
                fields=["workflow", "-created_at", "-id"], name="run_workflow_created_idx"
            ),
            # dashboard runs list filtered by queue or by code version, newest first (keyset)
            models.Index(fields=["queue", "-created_at", "-id"], name="run_queue_created_idx"),
            models.Index(fields=["version", "-created_at", "-id"], name="run_version_created_idx"),
            # dashboard runs list by queue and status, newest first, and its capped
            # per-status counts under a queue filter (each an index-only range, where
            # queue alone made every count intersect two whole index ranges)
            models.Index(
                fields=["queue", "status", "-created_at", "-id"], name="run_queue_status_idx"
            ),
            # dashboard runs list by workflow and status (e.g. failed runs of one workflow),
            # newest first, and its capped per-status counts under a workflow filter
            models.Index(
                fields=["workflow", "status", "-created_at", "-id"],
                name="run_workflow_status_idx",
            ),
            # executors claiming work: ENQUEUED runs that are due, by priority
            models.Index(
                fields=["-priority", "available_at"],
                name="run_due_idx",
                condition=Q(status="ENQUEUED"),
            ),
            # queue limits: RUNNING runs of a queue, in all and per executor (claim_in_queue)
            models.Index(
                fields=["queue", "executor_id"],
                name="run_queue_running_idx",
                condition=Q(status="RUNNING"),
            ),
            # queue rate limits: runs of a queue taken inside the window (claim_in_queue)
            models.Index(
                fields=["queue", "claimed_at"],
                name="run_queue_claimed_idx",
                condition=Q(claimed_at__isnull=False),
            ),
            # recovery sweep: RUNNING runs whose lease expired
            models.Index(
                fields=["lease_expires_at"], name="run_lease_idx", condition=Q(status="RUNNING")
            ),
            # failure hotspots and latency pages: finished runs by time
            models.Index(fields=["finished_at"], name="run_finished_idx"),
            # tag search: tags @> {"customer": "acme"}
            GinIndex(fields=["tags"], name="run_tags_gin"),
            # dashboard runs list, search by input text: UPPER(input::text) LIKE '%ALICE%'
            GinIndex(
                OpClass(Upper(Cast("input", models.TextField())), name="gin_trgm_ops"),
                name="run_input_trgm",
            ),
            # dashboard runs list filtered by error type, newest first (keyset on created_at, id)
            models.Index(
                fields=["error_type", "-created_at", "-id"],
                name="run_error_type_created_idx",
                condition=~Q(error_type=""),
            ),
            # dashboard "affected runs" of a failure group, newest first (keyset)
            models.Index(
                fields=["error_fingerprint", "-created_at", "-id"],
                name="run_fingerprint_created_idx",
                condition=~Q(error_fingerprint=""),
            ),
            # the capped per-status counts of an error type or a failure group (each one
            # index-only range; without status second, every count re-read the whole group)
            models.Index(
                fields=["error_type", "status", "-created_at", "-id"],
                name="run_error_type_status_idx",
                condition=~Q(error_type=""),
            ),
            models.Index(
                fields=["error_fingerprint", "status", "-created_at", "-id"],
                name="run_fingerprint_status_idx",
                condition=~Q(error_fingerprint=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} {self.id} ({self.status})"


# the narrowest history partition (DURABLE_PARTITION_DAYS counts whole days)
PARTITION_DAY = timedelta(days=1)


def creation_spans(created: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Runs' creation times as closed spans, a new one after each gap of a day or more: no
    whole partition without one of the runs lies inside a span. Bounded by the spans, given
    as constants, a read of the runs' history is planned on the partitions of their days
    only, at a pruning step or two a span (`= ANY()` of every time costs one a run, again at
    each run's probe when the read is correlated)."""
    spans: list[tuple[datetime, datetime]] = []
    for moment in sorted(set(created)):
        if spans and moment - spans[-1][1] < PARTITION_DAY:
            spans[-1] = (spans[-1][0], moment)
        else:
            spans.append((moment, moment))
    return spans


def created_within_q(created: Iterable[datetime]) -> Q:
    """`HistoryQuerySet.created_within`'s condition, for a subquery or an `Exists()`."""
    spans = [Q(run_created_at__range=span) for span in creation_spans(created)]
    return reduce(or_, spans) if spans else Q(pk__in=[])  # no runs: no rows


class HistoryQuerySet(models.QuerySet):
    """Reads of a partitioned history table that name the partitions they need."""

    def of_run(self, run: Run) -> HistoryQuerySet:
        """The rows of one run, from its partition only (a filter by run id alone probes
        the index of every partition kept, one a day)."""
        return self.filter(run_id=run.id, run_created_at=run.created_at)

    def of_runs(self, run_ids: Iterable[str]) -> HistoryQuerySet:
        """The rows of these runs, bounded by the runs' creation times: a filter by run id
        alone probes the index of every partition kept (one a day), while the bounds leave
        the planner the partitions of the runs' days (one read of the runs first)."""
        ids = list(run_ids)
        # the runs' creation times by primary key, bounded here: min() and max() in SQL
        # would be planned as a walk down run_created_idx filtered by id (116 ms at 1M runs)
        created = list(Run.objects.filter(id__in=ids).values_list("created_at", flat=True))
        if not created:
            return self.none()
        return self.created_within(created).filter(run_id__in=ids)

    def created_within(self, created: Iterable[datetime]) -> HistoryQuerySet:
        """The rows of runs created at these times (one at least), in the partitions of
        their days only (`creation_spans`)."""
        return self.filter(created_within_q(created))


class RunPartitioned(models.Model):
    """A history table partitioned by its run's creation time (docs/partitioning.md).

    `run_created_at` is the run's `created_at`, copied into each row: constant per run, so a
    run's rows share one partition and retention drops a partition whole once every run in
    it is past retention. The run link has no database constraint (a foreign key would make
    each deleted run probe every partition); the engine's own statements keep it.
    """

    run_created_at = models.DateTimeField()

    objects = HistoryQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """ORM writers (the admin, tests) get the run's creation time filled in."""
        if self.run_created_at is None:
            self.run_created_at = Run.objects.values_list("created_at", flat=True).get(
                pk=self.run_id
            )
        super().save(*args, **kwargs)


class Step(RunPartitioned):
    """One checkpoint: the recorded outcome of the entry at `position` in a run's history."""

    # (run, position, run_created_at) is unique: that index serves every lookup by run, so
    # no FK index is written on each checkpoint. No foreign-key constraint either: its check
    # re-read and re-locked the run row at every checkpoint's commit (16 µs of server time),
    # which the checkpoint statement has just read and share-locked to check its owner (a
    # run cannot go while a checkpoint of it commits); forks and imports write steps with
    # their run, and deleting a run deletes its steps first (`store/_trees.py`, or the
    # ORM's cascade); and with a constraint each deleted run would probe every partition
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="steps", db_index=False, db_constraint=False
    )
    position = models.IntegerField()
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=16, choices=StepKind.choices, default=StepKind.STEP)
    status = models.CharField(max_length=8, choices=StepStatus.choices)
    input: Any = JSONTextField(null=True, blank=True)
    # short hash of the input the code passed; replay checks it (empty: not checked)
    input_hash = models.CharField(max_length=16, blank=True, default="", db_default="")
    output: Any = JSONTextField(null=True, blank=True)
    error: Any = JSONTextField(null=True, blank=True)
    error_type = models.CharField(max_length=300, blank=True, default="")
    error_fingerprint = models.CharField(max_length=64, blank=True, default="")
    attempts = models.IntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0)
    # an operator replaced this recorded output when forking ("edit output and continue");
    # the old and new values are in the audit log
    patched = models.BooleanField(default=False, db_default=False)
    # CPU time of the recorded attempt (time.thread_time), beside its wall time duration_ms
    cpu_ms = models.FloatField(default=0, db_default=0)

    class Meta:
        constraints = [
            # the partition key belongs to every unique index; constant per run, so this is
            # (run, position) unique
            models.UniqueConstraint(
                fields=["run", "position", "run_created_at"], name="step_run_position_uniq"
            ),
            models.CheckConstraint(
                condition=one_of("status", StepStatus.values), name="durable_step_status_valid"
            ),
            models.CheckConstraint(
                condition=one_of("kind", StepKind.values), name="durable_step_kind_valid"
            ),
        ]
        indexes = [
            # failure hotspots: failed steps over a time window
            models.Index(
                fields=["finished_at"], name="step_failed_idx", condition=Q(status="ERROR")
            ),
            # dashboard latency page: percentiles of every step name finished in a window,
            # answered from the index alone (name and duration_ms are included)
            models.Index(
                fields=["finished_at"], name="step_finished_idx", include=["name", "duration_ms"]
            ),
        ]
        ordering = ["run", "position"]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.position} {self.name}"


class Attempt(RunPartitioned):
    """A failed attempt of a step, written when it fails, so retries survive a crash."""

    run = models.ForeignKey(  # served by attempt_run_idx
        Run, on_delete=models.CASCADE, related_name="attempts", db_index=False, db_constraint=False
    )
    position = models.IntegerField()
    attempt = models.IntegerField()
    name = models.CharField(max_length=300)
    error: Any = JSONTextField()
    error_type = models.CharField(max_length=300, blank=True, default="")
    # a database default too, so writers that predate the column (bench seeds) still insert
    error_fingerprint = models.CharField(max_length=64, blank=True, default="", db_default="")
    # the attempt that failed its step (no retry followed): a failure of the run's history,
    # kept when a resume drops the failed checkpoint
    final = models.BooleanField(default=False, db_default=False)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
        indexes = [
            # run detail: every attempt of a run, in order
            models.Index(fields=["run", "position", "attempt"], name="attempt_run_idx"),
            # failure hotspots: every step failure in a window, even after the run was
            # resumed (which drops the failed checkpoint but keeps its attempts)
            models.Index(fields=["finished_at"], name="attempt_final_idx", condition=Q(final=True)),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.position} attempt {self.attempt}"
