"""Latency percentiles for long windows, read from hourly histograms (`dashboard.rollups`).

Same shapes as `dashboard.queries.latency`, so the page renders either; values are the
geometric middle of the histogram bucket holding the percentile (within ±7%).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.queries.latency import bucket_for
from dashboard.queries.sql import aggregate
from dashboard.rollups import BASE

PERCENTILES = """
-- rollup_percentiles --
-- Merge the window's hourly histograms per key, then read each percentile's bucket
WITH merged AS (
    SELECT {key} AS key, u.b, sum(u.n) AS n
    FROM dashboard_latencyrollup r, unnest(r.buckets, r.counts) AS u(b, n)
    WHERE r.kind = %(kind)s AND r.hour >= %(since)s AND r.hour < %(until)s
      AND (%(subject)s = '' OR r.subject = %(subject)s)
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
) -> list[dict[str, Any]]:
    params = {
        "kind": kind,
        "since": since,
        "until": until,
        "subject": subject,
        "base": BASE,
        **(extra or {}),
    }
    return aggregate(PERCENTILES.format(key=key, order=order), params)


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
    since: datetime, until: datetime, names: list[str] | None = None
) -> list[dict[str, Any]]:
    rows = [
        row for row in _percentiles("step", since, until) if names is None or row["key"] in names
    ]
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
