"""A database that is missing or not migrated, said in one line with what to do.

The CLI is often the first thing run against a new database; a raw `relation "durable_run"
does not exist` traceback names the symptom, not the cure.
"""

from __future__ import annotations

from django.db import DatabaseError, connection
from psycopg import errors


def explain(problem: DatabaseError) -> str | None:
    """The hint for a missing database or missing tables; None for any other error."""
    cause = problem.__cause__
    name = connection.settings_dict.get("NAME") or "?"
    if isinstance(cause, errors.UndefinedTable):
        return (
            f"the database {name!r} has no Durable tables yet ({str(cause).splitlines()[0]}): "
            "run `python manage.py migrate` first"
        )
    if isinstance(cause, errors.InvalidCatalogName) or "does not exist" in str(problem):
        return (
            f"the database {name!r} does not exist: create it (`createdb {name}`, or "
            f"CREATE DATABASE {name} in psql), then run `python manage.py migrate`"
        )
    return None
