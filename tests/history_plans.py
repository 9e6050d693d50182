"""Which partitions of the history tables a statement's plan holds, and which it reads.

The history is partitioned by its run's creation time, one partition a day
(docs/partitioning.md). A partition PostgreSQL prunes while planning is absent from the
plan; one it prunes only while the statement runs is in the plan (planned, at a cost that
grows with the partitions kept) but never executed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

HISTORY_TABLES = ("durable_step", "durable_attempt", "durable_steplog")


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _plan(sql: str, params: Any, analyze: bool) -> dict[str, Any]:
    """The statement's plan as JSON, run (with ANALYZE) and rolled back."""
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ({options}) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]
        transaction.set_rollback(True)
    return plan


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The plan's scans of a history partition."""
    prefixes = tuple(f"{table}_" for table in HISTORY_TABLES)
    for node in _nodes(plan):
        if node.get("Relation Name", "").startswith(prefixes) and "Scan" in node["Node Type"]:
            yield node


def partitions_planned(sql: str, params: Any = None) -> set[str]:
    """The history partitions left in `sql`'s plan once the planner pruned the others: what
    planning it cost (each one's indexes and statistics are looked at)."""
    return {node["Relation Name"] for node in _scans(_plan(sql, params, analyze=False))}


def partitions_read(sql: str, params: Any = None) -> set[str]:
    """The history partitions scanned while `sql` ran (then rolled back): a partition pruned
    while the statement ran shows as never executed."""
    plan = _plan(sql, params, analyze=True)
    return {node["Relation Name"] for node in _scans(plan) if node.get("Actual Loops", 0) > 0}


def partitions_of_days(*moments: datetime) -> set[str]:
    """The history partitions of the days of these creation times (one-day partitions)."""
    return {
        f"{table}_p{moment.astimezone(UTC):%Y%m%d}"
        for moment in moments
        for table in HISTORY_TABLES
    }
