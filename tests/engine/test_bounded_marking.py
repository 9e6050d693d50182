"""Statements that take "up to N rows" (the sweep's wake-ups and dispatches, recoveries,
claims of alert deliveries) take at most N, whatever plan PostgreSQL picks.

A `LIMIT n FOR UPDATE SKIP LOCKED` subquery joined to the table it updates may be run again
for every row of the other side of a nested loop; each run skips the rows the statement has
already updated and returns the next n, so one statement marked 10 or 40 runs where it was
asked for 2 (a fast-tier run saw the sweep send 10 messages for 2 free worker slots). The
plan comes with the statistics of the moment: here they are made stale on purpose, and the
join methods that would hide the rescan are switched off.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

import durable
from durable.core import store
from durable.core.store import _queues as store_queues
from durable.models import Run
from tests.engine.celery_workflows import PER_WORKER, per_worker
from tests.engine.workflows import sum_three

STORE = Path(durable.__file__).parent / "core" / "store"


@contextmanager
def stale_statistics_and_a_rescanning_plan(keep: str) -> Iterator[None]:
    """Inside a transaction rolled back at the end: the planner believes durable_run holds
    only the run `keep` (analyzed when it did), and may not hash, merge or materialize."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE other_runs ON COMMIT DROP AS"
                " SELECT * FROM durable_run WHERE id <> %s",
                [keep],
            )
            cursor.execute("DELETE FROM durable_run WHERE id <> %s", [keep])
            cursor.execute("ANALYZE durable_run")
            cursor.execute("INSERT INTO durable_run SELECT * FROM other_runs")
            for method in ("hashjoin", "mergejoin", "material"):
                cursor.execute(f"SET LOCAL enable_{method} = off")
            yield
            transaction.set_rollback(True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE durable_run")  # true statistics for the tests after


def _waiting(start) -> None:
    """40 runs recorded by `start(index)`, due a second ago, untouched since before that."""
    for index in range(40):
        start(index)
    Run.objects.filter(id__startswith="wait-").update(
        updated_at=timezone.now() - timedelta(seconds=5),
        available_at=timezone.now() - timedelta(seconds=1),
    )


@pytest.fixture
def recorded_only(transactional_db, settings) -> None:
    settings.DURABLE_EXECUTOR = "external"  # durable.start only records the runs


def test_waking_a_limited_queue_marks_no_more_heads_than_asked(recorded_only):
    _waiting(lambda index: durable.start(per_worker, "x", 0, run_id=f"wait-{index}"))
    with stale_statistics_and_a_rescanning_plan(keep="wait-0"):
        woken = store_queues.mark_queue_heads(PER_WORKER.name, 1.0, False, 2)
    assert woken == ["wait-0", "wait-1"]


def test_dispatching_due_runs_marks_no_more_than_the_batch(recorded_only):
    _waiting(lambda index: durable.start(sum_three, 1, 2, index, run_id=f"wait-{index}"))
    with stale_statistics_and_a_rescanning_plan(keep="wait-0"):
        dispatched = store.mark_due_undispatched(False, 60.0, 3)
    assert len(dispatched) == 3


LIMITED_LOCK = re.compile(r"LIMIT\b[^;]*?FOR\s+UPDATE", re.DOTALL)
WRITES = re.compile(r"\b(UPDATE\s+\w+(\s+\w+)?\s+SET|DELETE\s+FROM|INSERT\s+INTO)\b")


def test_every_limited_lock_inside_a_write_is_taken_once():
    """The rule behind the tests above, for every statement of the store: a LIMIT ... FOR
    UPDATE that feeds a write sits in a MATERIALIZED CTE, which PostgreSQL runs once."""
    unbounded = []
    for path in sorted(STORE.glob("*.py")):
        for number, text in _string_constants(path):
            if LIMITED_LOCK.search(text) and WRITES.search(text) and "MATERIALIZED" not in text:
                unbounded.append(f"{path.name}:{number} {text.strip().splitlines()[0]}")
    assert not unbounded, unbounded


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """Each module-level statement, assembled as the module assembles it (its value)."""
    module = importlib.import_module(f"durable.core.store.{path.stem}")
    source = path.read_text()
    found = []
    for name, value in vars(module).items():
        if isinstance(value, str) and name.isupper() and (where := source.find(f"\n{name} =")) >= 0:
            found.append((source.count("\n", 0, where) + 2, value))
    return found
