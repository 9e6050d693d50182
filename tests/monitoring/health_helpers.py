"""Executor rows as a heartbeat leaves them, for health tests."""

from __future__ import annotations

from django.db import connection

from durable.core import store


def beat(executor_id: str, seconds_ago: float = 0, workflows: list[str] | None = None) -> None:
    store.heartbeat(
        executor_id=executor_id, kind="thread", hostname="h", pid=1, workflows=workflows or []
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE durable_executor SET last_seen_at = now() - make_interval(secs => %s)"
            " WHERE id = %s",
            [seconds_ago, executor_id],
        )
