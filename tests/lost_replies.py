"""A statement that commits and whose reply never arrives: the connection is killed right
after it, as a server crash or a dropped network would leave it (tests of settling)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from durable.core.store import _execute


def lose_the_reply_of(monkeypatch: Any, marker: str) -> list[Any]:
    """The first hot-path statement whose text holds `marker` commits, then its connection is
    terminated; the returned list receives its rows, so a test can tell it happened."""
    real = _execute._prepared_once
    lost: list[Any] = []

    def commit_then_lose_reply(sql: str, params: dict[str, Any]) -> Any:
        rows = real(sql, params)
        if marker in sql and not lost:
            lost.append(rows)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return rows

    monkeypatch.setattr(_execute, "_prepared_once", commit_then_lose_reply)
    return lost
