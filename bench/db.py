"""Connections to the benchmark's PostgreSQL, derived from Django's `default` database."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import psycopg
from django.conf import settings
from psycopg import sql


def connect_kwargs(dbname: str | None = None) -> dict[str, Any]:
    """psycopg keyword arguments for the database Django uses (or another on that server)."""
    config = settings.DATABASES["default"]
    kwargs = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "dbname": dbname or config["NAME"],
    }
    return {key: value for key, value in kwargs.items() if value is not None}


def connect(dbname: str | None = None, autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(**connect_kwargs(dbname), autocommit=autocommit)


def sqlalchemy_url(dbname: str) -> str:
    """A `postgresql://` URL (DBOS's format) for `dbname` on the same server."""
    kwargs = connect_kwargs(dbname)
    auth = quote(kwargs.get("user", "postgres"))
    if "password" in kwargs:
        auth += ":" + quote(kwargs["password"])
    host = kwargs.get("host", "")
    if host.startswith("/"):  # a Unix socket directory (the embedded server)
        return f"postgresql://{auth}@/{dbname}?host={quote(host)}"
    port = f":{kwargs['port']}" if "port" in kwargs else ""
    return f"postgresql://{auth}@{host}{port}/{dbname}"


def django_url(dbname: str) -> str:
    """A `DATABASE_URL` for `dbname` on the same server (a socket directory percent-encoded)."""
    kwargs = connect_kwargs(dbname)
    auth = quote(kwargs.get("user", "postgres"))
    if "password" in kwargs:
        auth += ":" + quote(kwargs["password"])
    host = quote(kwargs.get("host", ""), safe="")
    port = f":{kwargs['port']}" if "port" in kwargs else ""
    return f"postgres://{auth}@{host}{port}/{dbname}"


def ensure_database(dbname: str) -> None:
    with connect("postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def server_facts() -> dict[str, str]:
    """What shapes commit latency: version, fsync, synchronous_commit, WAL settings."""
    facts = {}
    with connect() as conn:
        for name in (
            "server_version",
            "fsync",
            "synchronous_commit",
            "wal_sync_method",
            "shared_buffers",
            "max_connections",
        ):
            show = sql.SQL("SHOW {}").format(sql.Identifier(name))
            facts[name] = conn.execute(show).fetchone()[0]
    return facts
