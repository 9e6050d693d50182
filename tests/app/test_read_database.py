"""DURABLE_READ_DATABASE without a replica: the router sends a read to the replica only
inside a page that asked for it, and `manage.py check` catches a setting that cannot work (an
alias Django does not know, the primary itself, the router not installed). The replica
itself: tests/replica/."""

from __future__ import annotations

from django.contrib.auth.models import User

from dashboard.models import ApiToken
from durable.core import _checks as checks
from durable.core.store import _reading as reading
from durable.models import Run
from durable.routers import ReadReplicaRouter

ROUTER = "durable.routers.ReadReplicaRouter"
DATABASES = {"default": {}, "replica": {}}


def ids(messages) -> list[str]:
    assert all(message.hint for message in messages), "every message says what to do"
    return [message.id for message in messages]


def test_no_read_database_needs_nothing():
    assert checks.read_database_problems("", {"default": {}}, []) == []


def test_a_read_database_with_its_router_passes():
    assert checks.read_database_problems("replica", DATABASES, [ROUTER]) == []


def test_an_unknown_alias_is_reported():
    assert ids(checks.read_database_problems("replcia", DATABASES, [ROUTER])) == ["durable.E018"]


def test_the_primary_as_read_database_is_reported():
    assert ids(checks.read_database_problems("default", DATABASES, [ROUTER])) == ["durable.E018"]


def test_a_missing_router_is_reported():
    assert ids(checks.read_database_problems("replica", DATABASES, [])) == ["durable.E019"]


def test_this_project_passes(settings):
    settings.DURABLE_READ_DATABASE = ""
    assert checks.check_read_database() == []


def test_outside_a_page_every_read_of_ours_goes_to_the_primary():
    router = ReadReplicaRouter()
    assert router.db_for_read(Run) == router.db_for_read(ApiToken) == "default"


def test_inside_a_page_our_reads_go_to_the_replica_and_writes_to_the_primary():
    router = ReadReplicaRouter()
    with reading.reading_from("replica"):
        assert router.db_for_read(Run) == router.db_for_read(ApiToken) == "replica"
        assert router.db_for_write(Run) == "default"
        assert router.db_for_read(User) is None  # sessions and users: Django's to route
        with reading.reading_from(None):  # work inside a page that writes what it reads
            assert router.db_for_read(Run) == "default"
    assert router.db_for_read(Run) == "default"


def test_the_replica_is_never_migrated(settings):
    settings.DURABLE_READ_DATABASE = "replica"
    router = ReadReplicaRouter()
    assert router.allow_migrate("replica", "durable") is False
    assert router.allow_migrate("default", "durable") is None


def test_wal_positions_compare_as_numbers():
    assert reading.position_value("0/3020E58") < reading.position_value("1/0")
    assert reading.position_value("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert reading.position_value("garbage") is None
    assert reading.position_value("x/y") is None
