"""Fault-test fixtures: forget outages between tests, drop this database's connections."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from durable.core.store import _db as db


@pytest.fixture(autouse=True)
def _no_outage_memory():
    """An outage seen by one test must not hold back another test's sweep."""
    db.forget_outages()
    yield
    db.forget_outages()


def drop_connections() -> int:
    """pg_terminate_backend every session of this test's database (ours included), from a
    separate connection: what a failover or a proxy restart does to live executors."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname="postgres",
        autocommit=True,
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [settings["NAME"]],
        ).fetchall()
    return len(rows)
