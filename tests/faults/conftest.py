"""Fault-test fixtures: drop this database's connections, a private PostgreSQL to stop and
restart (outages are forgotten between all tests: tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.engine.processes import PROJECT_DIR
from tests.faults.servers import PrivatePostgres


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


@pytest.fixture(scope="module")
def private_pg():
    with tempfile.TemporaryDirectory(prefix="durable-faults-") as folder:
        os.chmod(folder, 0o755)
        server = PrivatePostgres(Path(folder))
        try:
            env = {**os.environ, "DATABASE_URL": server.url, "DURABLE_TEST_DATABASE": ""}
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
                cwd=PROJECT_DIR, env=env, check=True,
            )  # fmt: skip
            with server.admin(server.url.rsplit("/", 1)[1]) as conn:
                conn.execute(
                    "CREATE TABLE test_side_effect (id bigserial PRIMARY KEY, run_id text"
                    " NOT NULL, label text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
                )
            yield server
        finally:
            server.close()
