"""Shared fixtures: a real PostgreSQL (the machine's via DATABASE_URL, else embedded)."""

from __future__ import annotations

import os
import sys
import time

import pytest
from django.db import connection
from django.test.utils import override_settings

from durable import executors, queues
from durable.core.store import _db as db
from tests import fast_flush, tiers

fast_flush.install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Stop the executor before any fixture is torn down (the database flush above all), so
    each test gets a fresh executor and no thread works on a run whose rows are going away."""
    executors.shutdown()
    queues.forget_stored()  # the flush or rollback takes durable_queue rows with it


# Test users' passwords are hashed with MD5: PBKDF2 (the site's hasher) takes half a second a
# user here, a minute over the fast tier, and proves nothing about the code under test. PBKDF2
# stays second in the list so a password hashed by a subprocess (the demo's user) still checks.
FAST_PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    with override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS):
        yield


@pytest.fixture(autouse=True)
def _no_outage_memory():
    """An outage one test caused (any test may: a step whose attempt could not be recorded)
    must not hold back another test's recovery sweep, which waits out a recent outage."""
    db.forget_outages()
    yield
    db.forget_outages()


@pytest.fixture(autouse=True)
def _queue_declarations_stored_afresh():
    """Each test writes its queues' declarations again (the last test's rows are gone)."""
    queues.forget_stored()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Add the side-effect ledger that crash and exactly-once tests count rows in; at the
    end, let the test database go even if a straggler still holds a session on it."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS test_side_effect ("
            " id bigserial PRIMARY KEY, run_id text NOT NULL, label text NOT NULL,"
            " at timestamptz NOT NULL DEFAULT now())"
        )
    yield
    with django_db_blocker.unblock():
        _end_other_sessions()


STRAGGLERS = """
SELECT pid, application_name, state, left(query, 200) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


def _end_other_sessions(patience: float = 10.0) -> None:
    """Dropping the test database fails while any other session is on it: a worker process
    still exiting, or a thread a test abandoned (a hung step's) that has not closed its
    connection yet. Give them `patience` seconds, then end them, naming each on stderr so
    a real leak stays visible."""
    deadline = time.monotonic() + patience
    with connection.cursor() as cursor:
        while True:
            cursor.execute(STRAGGLERS)
            stragglers = cursor.fetchall()
            if not stragglers or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        for pid, application, state, query in stragglers:
            print(  # not a warning: those are errors here, and this must not fail the run
                f"\nsession {pid} ({application or 'no name'}, {state}) was still on the test "
                f"database at the end; ended it. Its last query: {query}",
                file=sys.__stderr__,
            )
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    connection.close()


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


@pytest.fixture
def short_lease(settings) -> None:
    """A 4 s lease, for an executor gone without a goodbye: silent 5 s, it is still heard
    from within two leases, so only the recovery verdict's rule (lifeline lock gone, silent
    three heartbeats) can call it dead. Every rule that judges by lifeline locks waits after
    the server starts (a restart drops every lock): the verdict half a lease, forgetting dead
    executors a whole one. An embedded server starts with the test session, so a test run
    early or alone waits out what is left of that lease rather than see the dead as live."""
    settings.DURABLE_LEASE_SECONDS = 4
    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM clock_timestamp() - pg_postmaster_start_time())")
        up = float(cursor.fetchone()[0])
    time.sleep(max(0.0, settings.DURABLE_LEASE_SECONDS - up))


def record_side_effect(run_id: str, label: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO test_side_effect (run_id, label) VALUES (%s, %s)", [run_id, label]
        )


# --- test tiers ------------------------------------------------------------------------------
# A bare `pytest` runs the fast tier (a first green in minutes); the full tier adds the
# fault campaigns, crash tests with real processes, browser journeys and the wheel install.
FULL_TIER_MARKERS = ("slow", "e2e", "packaging")
FULL_TIER_FOLDERS = {"faults": "slow", "e2e": "e2e", "packaging": "packaging", "bench": "slow"}


def pytest_addoption(parser):
    parser.addoption(
        "--full",
        action="store_true",
        help="run every tier (also DURABLE_FULL_TESTS=1); a bare `pytest` runs the fast tier",
    )


def full_tier_requested(config) -> bool:
    """--full, DURABLE_FULL_TESTS=1, an explicit -m, or named files and folders."""
    named = config.args_source != pytest.Config.ArgsSource.TESTPATHS
    full = config.getoption("--full") or os.environ.get("DURABLE_FULL_TESTS") == "1"
    return full or named or bool(config.getoption("markexpr"))


def pytest_configure(config):
    """Record the tier before test modules are imported: they size their property tests
    with tests.tiers.examples() at import time."""
    os.environ[tiers.TIER_VARIABLE] = "full" if full_tier_requested(config) else "fast"


def pytest_collection_modifyitems(config, items):
    """Mark the full tier's folders, then leave the full tier out of a bare `pytest`."""
    for item in items:
        folder = item.path.relative_to(config.rootpath).parts[1:2]
        if folder and folder[0] in FULL_TIER_FOLDERS:
            item.add_marker(FULL_TIER_FOLDERS[folder[0]])
    if full_tier_requested(config):
        return

    def full(item) -> bool:
        return any(item.get_closest_marker(marker) for marker in FULL_TIER_MARKERS)

    deselected = [item for item in items if full(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not full(item)]


def pytest_report_header(config):
    if not full_tier_requested(config):
        return (
            "fast tier: slow, e2e and packaging tests left out, property tests try a tenth"
            " of their examples (--full or DURABLE_FULL_TESTS=1 runs everything)"
        )
    return None
