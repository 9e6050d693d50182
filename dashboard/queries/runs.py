"""The runs list: filtering, keyset pagination on (created_at, id) and status counts.

Every filter maps onto an index whose leading column is the filter and whose tail is
(created_at, id), so page 1 and page 1000 cost the same: one index range scan of a page.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Left, Now, Upper
from django.utils import timezone

from dashboard.queries import partition_bounds
from dashboard.queries.sql import read_cursor
from durable import operations
from durable.models import Run, RunStatus, Step, StepLog, created_within_q, log_search_text
from durable.observability.inspection import active_ms_expression

PAGE_SIZE = 50
COUNT_CAP = 10_000
# version leads an index of its own, but not with status after it: counting per status
# under it reads index rows of every status, so it counts less far (queue and workflow
# have status second: run_queue_status_idx, run_workflow_status_idx)
UNINDEXED_COUNT_CAP = 1_000
# the trigram index serves text of 3 characters or more; shorter text matches run ids only
MIN_SEARCH_CHARS = 3
_WORD = re.compile(r"[^\W_]+")  # what pg_trgm takes for a word: letters and digits

LIST_FIELDS = (
    "id",
    "workflow",
    "version",
    "status",
    "queue",
    "tags",
    "steps_done",
    "error_type",
    "created_at",
    "started_at",
    "finished_at",
    "recovery_count",
    "parent_id",
    "forked_from_id",
    "forked_from_step",
    "available_at",
    "updated_at",
    "lease_expires_at",
    "imported",
    "held_at",
    "hold_reason",
)


@dataclass(frozen=True)
class RunFilter:
    """What the operator asked to see; every field is optional."""

    status: str = ""
    workflow: str = ""
    version: str = ""
    queue: str = ""
    error_type: str = ""
    fingerprint: str = ""
    tag_key: str = ""
    tag_value: str = ""
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""
    logs: str = ""  # text in a step's kept log messages (3+ characters)
    ids: tuple[str, ...] = field(default=())
    oldest_first: bool = False
    delayed: bool = False  # delayed starts not yet due

    def without_status(self) -> RunFilter:
        return replace(self, status="")

    def count_cap(self) -> int:
        """How far status counts go before they say "N+": lower where rows must be read."""
        return UNINDEXED_COUNT_CAP if self.version else COUNT_CAP

    def is_selective(self) -> bool:
        """Filters that match few runs, through an index of their own."""
        return bool(
            self.q or self.logs or self.tag_key or self.ids or self.error_type or self.fingerprint
        )


def filtered_runs(run_filter: RunFilter) -> QuerySet[Run]:
    """Runs matching the filter, unordered; every condition is index-backed."""
    runs = Run.objects.all()
    exact = {
        "status": run_filter.status,
        "workflow": run_filter.workflow,
        "version": run_filter.version,
        "queue": run_filter.queue,
        "error_type": run_filter.error_type,
        "error_fingerprint": run_filter.fingerprint,
    }
    runs = runs.filter(**{name: value for name, value in exact.items() if value})
    if run_filter.tag_key:
        runs = runs.filter(tags__contains={run_filter.tag_key: run_filter.tag_value})
    if run_filter.since:
        runs = runs.filter(created_at__gte=run_filter.since)
    if run_filter.until:
        runs = runs.filter(created_at__lt=run_filter.until)
    if run_filter.ids:
        runs = runs.filter(id__in=run_filter.ids)
    if run_filter.q:
        runs = _search(runs, run_filter.q)
    if run_filter.logs:
        runs = runs.filter(id__in=_logged(run_filter.logs, history_bound(run_filter)))
    if run_filter.delayed:  # run_status_created_idx: the ENQUEUED runs, then these columns
        runs = runs.filter(
            status=RunStatus.ENQUEUED, started_at__isnull=True, available_at__gt=Now()
        )
    return runs


def searchable(text: str) -> bool:
    """Whether a trigram index can serve a search for `text` anywhere (LIKE '%text%'):
    3 characters or more, holding a trigram pg_trgm looks up. It splits the text into words
    of letters and digits and pads a word with two spaces where punctuation precedes it
    and one where punctuation follows it (none at the text's ends, which meet wildcards);
    a padded word of 3 characters or more gives a trigram. Text that gives none ("---",
    "a--") matches every row the index holds: the search would read them all."""
    if len(text) < MIN_SEARCH_CHARS:
        return False
    for word in _WORD.finditer(text):
        left = 2 if word.start() > 0 else 0
        right = 1 if word.end() < len(text) else 0
        if word.end() - word.start() + left + right >= 3:
            return True
    return False


def _search(runs: QuerySet[Run], text: str) -> QuerySet[Run]:
    """A run id, or text anywhere in the input (served by the trigram index on input;
    text it cannot serve would read every run's input, so it matches ids only)."""
    if not searchable(text):
        return runs.filter(id=text)
    runs = runs.alias(input_text=Upper(Cast("input", TextField())))
    return runs.filter(Q(id=text) | Q(input_text__contains=text.upper()))


def _logged(text: str, bound: Q) -> QuerySet[StepLog]:
    """Ids of runs with a kept log message containing the text, any case (steplog_message_trgm:
    a trigram index on the messages only, so searchable text only, never keys or levels), in
    the partitions `bound` leaves (`history_bound`)."""
    if not searchable(text):  # the form refuses it; never a read of every log line
        return StepLog.objects.none().values("run_id")
    batches = StepLog.objects.filter(bound).alias(messages=log_search_text())
    return batches.filter(messages__contains=text.upper()).values("run_id")


def history_bound(run_filter: RunFilter) -> Q:
    """A condition on history rows for the runs the filter matches, by their creation time
    (the partition key, constants the planner prunes by): the filter's window, and the
    spans of the chosen runs' creation times. A read of the runs' history under no bound
    plans every partition kept, one a day."""
    bound = Q()
    if run_filter.since:
        bound &= Q(run_created_at__gte=run_filter.since)
    if run_filter.until:
        bound &= Q(run_created_at__lt=run_filter.until)
    if run_filter.ids:
        chosen = Run.objects.filter(id__in=run_filter.ids)
        created = list(chosen.values_list("created_at", flat=True))
        if created:  # else no run matches anyway
            bound &= created_within_q(created)
    return bound


@dataclass(frozen=True)
class Cursor:
    """A position in the (created_at, id) order; `direction` says which way to page."""

    created_at: datetime
    run_id: str
    direction: str = "older"

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.run_id, self.direction])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        """None for anything malformed or forged: a bad cursor shows page 1, never an error."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created, run_id, direction = json.loads(raw)
            created_at = datetime.fromisoformat(created)
            if created_at.tzinfo is None or direction not in ("older", "newer"):
                return None
            if not isinstance(run_id, str) or len(run_id) > 200 or not run_id.isprintable():
                return None
            return cls(created_at.astimezone(UTC), run_id, direction)
        except (ValueError, TypeError, OverflowError, RecursionError):
            return None


@dataclass
class RunsPage:
    rows: list[dict[str, Any]]
    older: Cursor | None
    newer: Cursor | None


def runs_page(
    run_filter: RunFilter, cursor: Cursor | None = None, size: int = PAGE_SIZE
) -> RunsPage:
    """One page of runs, fetched with a keyset condition plus LIMIT from either end.

    A page walks toward older or newer runs from its cursor (from the newest or, sorted
    oldest first, the oldest run when there is none); rows come back in display order.
    """
    runs = filtered_runs(run_filter)
    if cursor is None:
        walk = "newer" if run_filter.oldest_first else "older"
    else:
        walk = cursor.direction
        runs = runs.filter(_beyond(cursor, walk == "newer"))
    order = ("created_at", "id") if walk == "newer" else ("-created_at", "-id")
    rows = list(_list_values(runs.order_by(*order))[: size + 1])
    more = len(rows) > size
    rows = with_history(rows[:size])
    by_time = rows if walk == "newer" else rows[::-1]
    has_older = more if walk == "older" else cursor is not None
    has_newer = more if walk == "newer" else cursor is not None
    return RunsPage(
        rows=with_parked_time(by_time if run_filter.oldest_first else by_time[::-1]),
        older=_cursor(by_time[0], "older") if rows and has_older else None,
        newer=_cursor(by_time[-1], "newer") if rows and has_newer else None,
    )


def _beyond(cursor: Cursor, newer: bool) -> Q:
    """Rows past the cursor; the redundant bound on created_at lets the index seek to it."""
    if newer:
        return Q(created_at__gte=cursor.created_at) & (
            Q(created_at__gt=cursor.created_at) | Q(id__gt=cursor.run_id)
        )
    return Q(created_at__lte=cursor.created_at) & (
        Q(created_at__lt=cursor.created_at) | Q(id__lt=cursor.run_id)
    )


def _cursor(row: dict[str, Any], direction: str) -> Cursor:
    return Cursor(row["created_at"], row["id"], direction)


def _list_values(runs: QuerySet[Run]) -> QuerySet:
    """Only the columns a list row shows; inputs and outputs stay in the database. The
    newest fork or restart that supersedes a failed run is read too (whatever its own
    outcome: `durable.operations.successors`); what the history says, next (`with_history`).
    """
    successor = Run.objects.filter(forked_from_id=OuterRef("id"))
    return runs.annotate(
        error_message=Left(KeyTextTransform("message", "error"), 200),
        superseded_by=Case(
            When(
                status__in=RunStatus.resumable(),
                then=Subquery(successor.order_by("-created_at").values("id")[:1]),
            )
        ),
    ).values(*LIST_FIELDS, "error_message", "superseded_by")


# when a live run's work goes on after its last failed attempt: that attempt's end plus the
# backoff it chose (read for RUNNING rows only: a finished run's active time is stored)
# (`_durations.retry_resumes_at`: a backoff from before the last claim was never waited out;
# the delay read as numeric, so an imported 1e400 is clamped, not an error)
RETRY_RESUMES_SQL = """CASE WHEN "durable_run".status = 'RUNNING' THEN (
    SELECT max(a.finished_at + CASE
        WHEN a.finished_at < "durable_run".claimed_at
          OR json_typeof(a.error->'retry_delay_seconds') IS DISTINCT FROM 'number'
        THEN interval '0'
        ELSE make_interval(secs => least(greatest(
            (a.error->>'retry_delay_seconds')::numeric, 0), 1e8)::float8) END)
    FROM durable_attempt a
    WHERE a.run_id = "durable_run".id AND a.run_created_at = "durable_run".created_at
      AND {within}) END"""


def with_history(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's steps recorded, its last checkpoint's finish and, while it runs, its
    active time, read live (the engine writes `steps_done` and `active_ms` when a run changes
    status or ends): one probe of the (run, position) index per row, in the partitions of
    the rows' creation days only. Their creation times bound this second statement as
    constants (`partition_bounds`), so the planner prunes the other partitions; read with
    the page's rows, by the run row's `created_at`, every partition kept (one a day) was
    planned, ~1 ms each on a page's new connection (docs/partitioning.md)."""
    if not rows:
        return rows
    created = [row["created_at"] for row in rows]
    within, bounds = partition_bounds.within_sql(created)  # the attempts' partitions too
    last_position = Step.objects.filter(
        created_within_q(created),  # prunes to the rows' days as it is planned
        run_id=OuterRef("id"),
        run_created_at=OuterRef("created_at"),  # and to the row's partition as it runs
    ).order_by("-position")
    history = Run.objects.filter(id__in=[row["id"] for row in rows]).annotate(
        steps_recorded=Coalesce(Subquery(last_position.values("position")[:1]) + 1, 0),
        last_finished=Subquery(last_position.values("finished_at")[:1]),
        # a failed attempt's end plus its backoff: a live run's work resumes from there
        retry_resumes=RawSQL(RETRY_RESUMES_SQL.format(within=within), bounds, DateTimeField()),
        active=Case(
            When(status__in=RunStatus.terminal(), active_ms__isnull=False, then=F("active_ms")),
            default=active_ms_expression(partition_bounds.within_sql(created)),
        ),
    )
    found = {run_id: entry for run_id, *entry in
             history.values_list("id", "steps_recorded", "last_finished", "active",
                                 "retry_resumes")}  # fmt: skip
    for row in rows:
        # a run deleted since the first statement: nothing recorded, as a new run
        (row["steps_recorded"], row["last_finished"], row["active"],
         row["retry_resumes"]) = found.get(row["id"], (0, None, None, None))  # fmt: skip
    return rows


def with_parked_time(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's time parked since it first started: wall time not spent in steps (a
    running run's step in flight counts as active, from its claim or last checkpoint on)."""
    now = timezone.now()
    for row in rows:
        if row["status"] == RunStatus.RUNNING:
            marks = (row["updated_at"], row["last_finished"], row.get("retry_resumes"))
            since = max(mark for mark in marks if mark is not None)
            row["active"] = (row["active"] or 0) + max((now - since).total_seconds() * 1000, 0)
        started = row["started_at"]
        wall = ((row["finished_at"] or now) - started).total_seconds() * 1000 if started else 0
        row["parked"] = max(wall - (row["active"] or 0), 0.0)
    return rows


def status_counts(run_filter: RunFilter, cap: int | None = None) -> dict[str, int]:
    """Runs per status under the filter, each count capped so it stays a bounded scan.

    A count equal to `cap` means "at least cap"; templates show it as "10,000+".
    """
    cap = cap or run_filter.count_cap()
    base = filtered_runs(run_filter.without_status())
    if run_filter.is_selective():
        counts = _counts_in_one_scan(base, cap)
        if counts is not None:
            return counts
    return _counts_per_status(base, cap)


def _counts_per_status(base: QuerySet[Run], cap: int) -> dict[str, int]:
    """One round trip: a UNION of `count(*)` over `LIMIT cap` subqueries, one per status,
    each a range of an index that holds status (run_status_created_idx,
    run_workflow_status_idx, run_queue_status_idx)."""
    with read_cursor() as cursor:
        cursor.execute(*counts_per_status_sql(base, cap))
        return dict(cursor.fetchall())


def counts_per_status_sql(base: QuerySet[Run], cap: int) -> tuple[str, list[Any]]:
    """The statement `_counts_per_status` runs (its plan is tested against the indexes)."""
    parts, params = [], []
    for status in RunStatus.values:
        sql, sub_params = base.filter(status=status).values("id")[:cap].query.sql_with_params()
        parts.append(f"SELECT %s, count(*) FROM ({sql}) AS capped")
        params.extend([status, *sub_params])
    return " UNION ALL ".join(parts), params


def _counts_in_one_scan(base: QuerySet[Run], cap: int) -> dict[str, int] | None:
    """Group the (few) runs a selective filter matches by status in one scan; None when
    they reach the cap, where per-status counting is the bounded way."""
    sql, params = base.values("status")[:cap].query.sql_with_params()
    with read_cursor() as cursor:
        cursor.execute(f"SELECT status, count(*) FROM ({sql}) AS matched GROUP BY status", params)
        found = dict(cursor.fetchall())
    if sum(found.values()) >= cap:
        return None
    return {status: found.get(status, 0) for status in RunStatus.values}


def superseded_count(run_filter: RunFilter) -> int:
    """Matching runs already restarted or forked: a bulk restart skips them by default."""
    return operations.superseded_runs(filtered_runs(run_filter)).count()


def status_breakdown(run_filter: RunFilter, apart: tuple[str, Q] | None = None) -> dict[str, int]:
    """Exact runs per status for a bulk preview: which of them each action can change.
    `apart` (a label, a condition) counts the runs meeting the condition under the label,
    whatever their status: what an action tells apart that a status does not (held runs)."""
    runs = filtered_runs(run_filter).order_by()
    if apart is not None:
        label, condition = apart
        runs = runs.annotate(shown=Case(When(condition, then=Value(label)),
                                        default=F("status"), output_field=TextField()))  # fmt: skip
    else:
        runs = runs.annotate(shown=F("status"))
    rows = runs.values("shown").annotate(n=Count("id"))
    return {row["shown"]: row["n"] for row in rows}


WORKFLOW_NAMES = """
-- workflow_names --
-- Distinct workflows by skipping through run_workflow_created_idx (a loose index scan)
WITH RECURSIVE names AS (
    (SELECT workflow FROM durable_run ORDER BY workflow LIMIT 1)
    UNION ALL
    SELECT (SELECT r.workflow FROM durable_run r WHERE r.workflow > n.workflow
            ORDER BY r.workflow LIMIT 1)
    FROM names n WHERE n.workflow IS NOT NULL
)
SELECT workflow FROM names WHERE workflow IS NOT NULL LIMIT 500
"""


def workflow_names() -> list[str]:
    """Every workflow that has runs, for the filter dropdown; cheap at millions of runs."""
    with read_cursor() as cursor:
        cursor.execute(WORKFLOW_NAMES)
        return [row[0] for row in cursor.fetchall()]
