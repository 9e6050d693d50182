"""The `durable` console script and `manage.py durable` in the repository's development
setup: no variables to set, and a missing or unmigrated database said in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = str(Path(sys.executable).parent / "durable")


def bare_environment(data: Path, **extra: str) -> dict[str, str]:
    """What a new user's shell has: no DEBUG, SECRET_KEY, DATABASE_URL or settings module."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    return {**env, "DURABLE_DATA_DIR": str(data), **extra}


def run(
    args: list[str], env: dict[str, str], cwd: Path = PROJECT_DIR
) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_console_script_shows_the_durable_commands_in_the_repository(tmp_path):
    done = run([CONSOLE_SCRIPT, "--help"], bare_environment(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "list" in done.stdout and "replay" in done.stdout and "fork" in done.stdout


def test_the_console_script_finds_the_project_from_a_subfolder(tmp_path):
    done = run([CONSOLE_SCRIPT, "list", "--help"], bare_environment(tmp_path), PROJECT_DIR / "docs")
    assert done.returncode == 0, done.stderr
    assert "--status" in done.stdout


def test_outside_a_project_the_console_script_says_what_to_set(tmp_path):
    done = run([CONSOLE_SCRIPT, "list"], bare_environment(tmp_path), tmp_path)
    assert done.returncode == 1
    assert "DJANGO_SETTINGS_MODULE" in done.stderr and "manage.py" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def empty_database():
    """A database that exists on the machine's server but was never migrated."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.skip("needs DATABASE_URL (a server to create a scratch database on)")
    name = f"durable_empty_{uuid.uuid4().hex[:8]}"
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        yield f"{server}/{name}"
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_a_database_without_the_tables_says_to_migrate(tmp_path, empty_database):
    env = bare_environment(tmp_path, DATABASE_URL=empty_database, SECRET_KEY="k" * 50)
    done = run([CONSOLE_SCRIPT, "list"], env)
    assert done.returncode == 1
    assert "has no Durable tables" in done.stderr and "manage.py migrate" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_that_does_not_exist_says_to_create_it(tmp_path):
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x")
    missing = url.rsplit("/", 1)[0] + "/durable_no_such_database"
    env = bare_environment(tmp_path, DATABASE_URL=missing, SECRET_KEY="k" * 50)
    done = run([sys.executable, "manage.py", "durable", "list"], env)
    assert done.returncode == 1
    assert "'durable_no_such_database' does not exist" in done.stderr
    assert "createdb durable_no_such_database" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_durable_list_works_after_migrate_with_no_variables_set(tmp_path):
    """The quick start's setup: the embedded database, DEBUG and SECRET_KEY unset."""
    env = bare_environment(tmp_path)
    first = run([CONSOLE_SCRIPT, "list"], env)
    assert "run `python manage.py migrate` first" in first.stderr, first.stderr
    migrated = run([sys.executable, "manage.py", "migrate", "-v0"], env)
    assert migrated.returncode == 0, migrated.stderr
    done = run([sys.executable, "manage.py", "durable", "list"], env)
    assert done.returncode == 0 and "(no rows)" in done.stdout, done.stderr
    assert run([sys.executable, "manage.py", "embedded_db", "stop"], env).returncode == 0
