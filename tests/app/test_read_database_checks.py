"""`manage.py check` catches a DURABLE_READ_DATABASE that cannot work: an alias Django does
not know (or the primary itself), or the router that sends reads there not installed."""

from __future__ import annotations

from durable.core import _checks as checks

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
