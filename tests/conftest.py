"""Shared fixtures: a real PostgreSQL (the machine's via DATABASE_URL, else embedded)."""

from __future__ import annotations

import pytest
from django.db import connection

from durable import executors, queues


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Stop the executor before any fixture is torn down (the database flush above all), so
    each test gets a fresh executor and no thread works on a run whose rows are going away."""
    executors.shutdown()
    queues.forget_stored()  # the flush or rollback takes durable_queue rows with it


@pytest.fixture(autouse=True)
def _queue_declarations_stored_afresh():
    """Each test writes its queues' declarations again (the last test's rows are gone)."""
    queues.forget_stored()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Add the side-effect ledger that crash and exactly-once tests count rows in."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS test_side_effect ("
            " id bigserial PRIMARY KEY, run_id text NOT NULL, label text NOT NULL,"
            " at timestamptz NOT NULL DEFAULT now())"
        )


@pytest.fixture
def side_effects(transactional_db):
    """Count rows written by test workflows' steps: label -> number of times it ran."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE test_side_effect")

    def counts(run_id: str | None = None) -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT label, count(*) FROM test_side_effect"
                " WHERE %(run_id)s::text IS NULL OR run_id = %(run_id)s GROUP BY label",
                {"run_id": run_id},
            )
            return dict(cursor.fetchall())

    return counts


def record_side_effect(run_id: str, label: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO test_side_effect (run_id, label) VALUES (%s, %s)", [run_id, label]
        )
