"""Running the dashboard's aggregation statements."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction


def aggregate(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as dicts, with JIT off for the statement: compiling costs more than it saves on
    these sub-second aggregations (and would be paid on every page view)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
