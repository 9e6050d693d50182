"""`/health` with its PostgreSQL stopped answers 503 JSON within seconds: probes see the
outage at once, instead of waiting out the engine's 60 s retry budget behind a 30 s proxy
timeout and getting an HTML 500."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.engine.processes import PROJECT_DIR
from tests.faults.servers import PrivatePostgres

pytestmark = pytest.mark.slow


@pytest.fixture
def private_pg():
    with tempfile.TemporaryDirectory(prefix="durable-health-") as folder:
        os.chmod(folder, 0o755)
        server = PrivatePostgres(Path(folder))
        try:
            yield server
        finally:
            server.close()


@pytest.fixture
def web_process(private_pg):
    env = {**os.environ, "DATABASE_URL": private_pg.url, "DEBUG": "0",
           "SECRET_KEY": "health-outage-test-key-" + "x" * 40,
           "DJANGO_SETTINGS_MODULE": "config.settings", "DURABLE_TEST_DATABASE": ""}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.monitoring.health_process"],
        cwd=PROJECT_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    yield process
    process.kill()
    process.wait(timeout=10)


def _ask(process: subprocess.Popen) -> dict:
    process.stdin.write("health\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def test_health_answers_503_json_within_seconds_when_the_database_is_stopped(
    private_pg, web_process
):
    before = _ask(web_process)  # connected once (503: nothing migrated, no executor)
    assert before["status"] == 503, before
    assert json.loads(before["body"])["checks"]["database"]["ok"]
    private_pg.stop()
    answer = _ask(web_process)
    assert answer["status"] == 503, answer
    assert answer["content_type"] == "application/json", answer
    assert answer["seconds"] < 5, answer
    body = json.loads(answer["body"])
    assert body["status"] == "unhealthy"
    assert not body["checks"]["database"]["ok"]
    assert "PostgreSQL is not reachable" in body["checks"]["database"]["detail"]
