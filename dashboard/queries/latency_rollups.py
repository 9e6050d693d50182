"""Latency percentiles for long windows, read from hourly histograms (`dashboard.rollups`).

Same shapes as `dashboard.queries.latency`, so the page renders either; values are the
geometric middle of the histogram bucket holding the percentile (within ±7%). With
`unrolled`, the window's hours not rolled up (its first partial hour, the newest) are
bucketed from their own rows in the same statement, so the whole window counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dashboard.models import RollupCursor
from dashboard.queries.latency import bucket_for
from dashboard.queries.sql import aggregate
from dashboard.rollups import BASE, SOURCES, TOP_BUCKET

PERCENTILES = """
-- rollup_percentiles --
-- Merge the window's hourly histograms per key, then read each percentile's bucket
WITH merged AS (
    SELECT key, b, sum(n) AS n FROM (
        SELECT {key} AS key, u.b, u.n
        FROM dashboard_latencyrollup r, unnest(r.buckets, r.counts) AS u(b, n)
        WHERE r.kind = %(kind)s AND r.hour >= %(since)s AND r.hour < %(until)s
          AND (%(subject)s = '' OR r.subject = %(subject)s)
        {unrolled}
    ) AS parts
    GROUP BY 1, 2
), running AS (
    SELECT key, b, sum(n) OVER (PARTITION BY key ORDER BY b) AS cum,
           sum(n) OVER (PARTITION BY key) AS total
    FROM merged
)
SELECT key, max(total)::bigint AS count,
       power(%(base)s::float8, min(b) FILTER (WHERE cum >= 0.50 * total) + 0.5) AS p50,
       power(%(base)s::float8, min(b) FILTER (WHERE cum >= 0.95 * total) + 0.5) AS p95,
       power(%(base)s::float8, min(b) FILTER (WHERE cum >= 0.99 * total) + 0.5) AS p99
FROM running GROUP BY key
ORDER BY {order}
"""

UNROLLED = """
        UNION ALL  -- checkpoints of {span} the rollups do not hold, bucketed alike
        SELECT {key} AS key, greatest(0, least(%(top)s,
                   floor(ln(greatest(r.ms, 1)) / ln(%(base)s))))::smallint AS b, 1 AS n
        FROM ({source}) AS r
        WHERE %(subject)s = '' OR r.subject = %(subject)s
"""

FAILED = """
-- rollup_failed --
-- Runs that did not succeed, per workflow, in the window
SELECT subject AS key, sum(failed)::bigint AS failed FROM dashboard_latencyrollup
WHERE kind = 'run' AND hour >= %(since)s AND hour < %(until)s GROUP BY subject
"""


def _percentiles(
    kind: str,
    since: datetime,
    until: datetime,
    *,
    key: str = "r.subject",
    order: str = "p95 DESC NULLS LAST",
    subject: str = "",
    extra: dict[str, Any] | None = None,
    unrolled: bool = False,
) -> list[dict[str, Any]]:
    params = {
        "kind": kind,
        "since": since,
        "until": until,
        "subject": subject,
        "base": BASE,
        **(extra or {}),
    }
    parts = ""
    if unrolled:
        params.update(_spans(kind, since, until), top=TOP_BUCKET)
        parts = "".join(
            UNROLLED.format(key=key, span=span, source=_source(kind, span))
            for span in ("head", "tail")
        )
    return aggregate(PERCENTILES.format(key=key, order=order, unrolled=parts), params)


def _spans(kind: str, since: datetime, until: datetime) -> dict[str, datetime]:
    """The window split in three: complete hours already rolled up (read as histograms;
    they become `since`/`until`), and the rows before and after them (`head`, `tail`)."""
    hour = timedelta(hours=1)
    first = since.replace(minute=0, second=0, microsecond=0)
    first = first if first == since else first + hour
    cursor = RollupCursor.objects.filter(kind=kind).first()
    last = (
        min(until.replace(minute=0, second=0, microsecond=0), cursor.through) if cursor else first
    )
    if last <= first:
        first = last = since
    return {"since": first, "until": last, "head_start": since, "head_end": first,
            "tail_start": last, "tail_end": until}  # fmt: skip


def _source(kind: str, span: str) -> str:
    """The rollups' own source rows for one span of the window."""
    return (
        SOURCES[kind]
        .replace("%(start)s", f"%({span}_start)s")
        .replace("%(end)s", f"%({span}_end)s")
    )


def _split(row: dict[str, Any]) -> dict[str, Any]:
    return {"p50": row.get("p50"), "p95": row.get("p95"), "p99": row.get("p99")}


def workflow_latency(since: datetime, until: datetime) -> list[dict[str, Any]]:
    runs = _percentiles("run", since, until)
    waits = {row["key"]: _split(row) for row in _percentiles("wait", since, until)}
    parked = {row["key"]: _split(row) for row in _percentiles("parked", since, until)}
    failed = {
        row["key"]: row["failed"] for row in aggregate(FAILED, {"since": since, "until": until})
    }
    return [
        {
            "workflow": row["key"],
            "runs": row["count"],
            "failed": failed.get(row["key"], 0),
            "run": _split(row),
            "wait": waits.get(row["key"], _split({})),
            "parked": parked.get(row["key"], _split({})),
        }
        for row in runs
    ]


def step_latency(
    since: datetime, until: datetime, names: list[str] | None = None, *, unrolled: bool = False
) -> list[dict[str, Any]]:
    """Per step name; `unrolled` also counts the window's rows not rolled up yet."""
    found = _percentiles("step", since, until, unrolled=unrolled)
    rows = [row for row in found if names is None or row["key"] in names]
    return [{"name": row["key"], "count": row["count"], **_split(row)} for row in rows[:100]]


def step_over_time(
    since: datetime, until: datetime, names: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Per step name, percentiles per bucket from the hourly histograms."""
    series = {name: _over_time("step", since, until, name) for name in names}
    return {name: rows for name, rows in series.items() if rows}


def latency_over_time(since: datetime, until: datetime, workflow: str = "") -> list[dict[str, Any]]:
    return _over_time("run", since, until, workflow)


def _over_time(kind: str, since: datetime, until: datetime, subject: str) -> list[dict[str, Any]]:
    rows = _percentiles(
        kind,
        since,
        until,
        key="date_bin(%(bucket)s, r.hour, %(since)s)",
        order="key",
        subject=subject,
        extra={"bucket": bucket_for(until - since)},
    )
    return [{"bucket": row["key"], "runs": row["count"], **_split(row)} for row in rows]
