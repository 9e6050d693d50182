"""The statements of a run's hot path (its insert, its checkpoints, its finish) are prepared
once per connection and do no work beyond the run's own rows: docs/performance.md."""

from __future__ import annotations

from django.db import connection

import durable
from tests.engine.workflows import sum_three


def _prepared(marker: str) -> int:
    """Statements prepared on this thread's connection whose text holds `marker`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{marker}%"],
        )
        return cursor.fetchone()[0]


def test_a_start_inserts_its_run_with_a_statement_prepared_once(side_effects):
    """Planning the insert cost the server more than running it: prepared, it is planned
    once per connection, not at every start."""
    first = durable.start(sum_three, 1, 2, 3)
    second = durable.start(sum_three, 4, 5, 6)
    assert (first.result(timeout=10), second.result(timeout=10)) == (6, 15)
    assert _prepared("-- insert_run --") == 1
