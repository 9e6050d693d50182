"""The benchmark suite runs end to end in --quick mode (CI proves it runs, not how fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _database_url(name: str) -> str:
    config = connection.settings_dict
    host = config["HOST"] or "127.0.0.1"
    auth = quote(config["USER"] or "postgres")
    if config["PASSWORD"]:
        auth += ":" + quote(config["PASSWORD"])
    port = f":{config['PORT']}" if config["PORT"] else ""
    return f"postgres://{auth}@{quote(host, safe='')}{port}/{name}"


def _drop_database(name: str) -> None:
    config = connection.settings_dict
    params = {
        "host": config["HOST"] or None,
        "port": config["PORT"] or None,
        "user": config["USER"] or None,
        "password": config["PASSWORD"] or None,
    }
    params = {key: value for key, value in params.items() if value is not None}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_quick_suite_prints_the_table_and_writes_json(transactional_db, tmp_path):
    test_database = connection.settings_dict["NAME"]
    dbos_database = f"{test_database}_dbos"
    env = {**os.environ, "DATABASE_URL": _database_url(test_database)}
    command = [
        sys.executable,
        "bench/run.py",
        "--quick",
        "--skip",
        "celery",
        "--skip",
        "scale",
        "--skip",
        "replica",
        "--dbos-database",
        dbos_database,
        "--out",
        str(tmp_path),
    ]
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        _drop_database(dbos_database)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "INSERT+COMMIT, 1 conn" in done.stdout
    assert "Durable per no-op step" in done.stdout
    (result_file,) = tmp_path.glob("*-quick.json")
    results = json.loads(result_file.read_text())
    assert results["floor"]["single"]["median_ms"] > 0
    assert results["durable"]["step_overhead"]["n"] > 0
    assert results["durable"]["throughput_burst"]["workflows_per_s"] > 0
    assert results["durable"]["start_latency"]["n"] > 0
    assert "dbos" in results or "dbos_skipped" in results
