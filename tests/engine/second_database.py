"""A second, migrated database on the machine's PostgreSQL, driven through real
`manage.py` processes: where exported runs are imported ("a laptop")."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
from django.db import connection

from tests.engine.processes import PROJECT_DIR, database_url_for_tests


def second_database() -> Iterator[str]:
    """For a fixture: a freshly migrated second database's DATABASE_URL, dropped after."""
    yield create_second_database()
    _admin(f'DROP DATABASE IF EXISTS "{_second_name()}" WITH (FORCE)')


def _second_name() -> str:
    return f"{connection.settings_dict['NAME']}_second"


def _admin(statement: str) -> None:
    admin_url = database_url_for_tests().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(statement)


def create_second_database() -> str:
    """(Re)create `<test database>_second`, migrate it, and return its DATABASE_URL."""
    name = _second_name()
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    url = database_url_for_tests().rsplit("/", 1)[0] + f"/{name}"
    manage(url, "migrate", "--verbosity", "0", check=True)
    with psycopg.connect(url, autocommit=True) as second:  # the test steps' side-effect ledger
        second.execute(
            "CREATE TABLE test_side_effect (id bigserial PRIMARY KEY, run_id text NOT NULL,"
            " label text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
        )
    return url


def manage(
    database_url: str, *args: str, check: bool = False, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """`manage.py *args` in its own process on `database_url`."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DURABLE_MODULES": "tests.engine.workflows,tests.engine.debug_workflows",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result
