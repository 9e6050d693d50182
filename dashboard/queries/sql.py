"""Running the dashboard's own statements, on the database the page reads from.

That is the read replica inside a page that reads it (DURABLE_READ_DATABASE, docs/replica.md),
else the primary: `read_cursor()` and `read_atomic()` follow the page, as the ORM does through
durable.routers.ReadReplicaRouter.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper

from durable.observability import inspection


def read_cursor() -> CursorWrapper:
    """A cursor on the database this page reads from."""
    return connections[inspection.read_alias()].cursor()


def read_atomic() -> transaction.Atomic:
    """A transaction on the database this page reads from (for SET LOCAL)."""
    return transaction.atomic(using=inspection.read_alias())


def aggregate(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as dicts, with JIT off for the statement: compiling costs more than it saves on
    these sub-second aggregations (and would be paid on every page view)."""
    with read_atomic(), read_cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
