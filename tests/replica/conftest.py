"""A private primary, its streaming standby, and a dashboard process reading from the standby."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.processes import PROJECT_DIR
from tests.replica.servers import Pair

LAG_NOTICE_SECONDS = 1.0  # the dashboard notes a lag above this (DURABLE_READ_LAG_NOTICE_SECONDS)


class Dashboard:
    """The dashboard process (tests/replica/dashboard_process.py) and its pipes."""

    def __init__(self, pair: Pair) -> None:
        env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1",
            "DATABASE_URL": pair.primary.url, "DURABLE_READ_DATABASE_URL": pair.standby.url,
            "DURABLE_TEST_DATABASE": "", "DURABLE_EXECUTOR": "external",
            "DURABLE_METRICS_ENABLED": "1",
            "DURABLE_READ_LAG_NOTICE_SECONDS": str(LAG_NOTICE_SECONDS),
        }  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.replica.dashboard_process"],
            cwd=PROJECT_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._read() == {"ready": True}

    def _read(self) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the dashboard process ended ({self.process.wait()})")
        return json.loads(line)

    def send(self, command: dict[str, Any]) -> dict[str, Any]:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        assert "error" not in answer, answer["error"]
        return answer

    def get(self, path: str) -> dict[str, Any]:
        return self.send({"get": path})

    def post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.send({"post": path, "data": data})

    def seed(self, **runs: list[str]) -> None:
        self.send({"seed": runs})

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdin.close()
        self.process.stdout.close()


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with tempfile.TemporaryDirectory(prefix="durable-replica-") as folder:
        os.chmod(folder, 0o755)  # the servers run as their own system user
        with Pair(Path(folder)) as pair:
            yield pair


@pytest.fixture(scope="module")
def dashboard(pair: Pair) -> Iterator[Dashboard]:
    dashboard = Dashboard(pair)
    yield dashboard
    dashboard.close()


@pytest.fixture
def caught_up(pair: Pair, dashboard: Dashboard) -> Iterator[Pair]:
    """Replay running and the standby caught up, before and after the test; the browser
    forgets the last test's action."""
    pair.standby.resume_replay()
    pair.standby.catch_up(pair.primary)
    dashboard.send({"forget": True})
    yield pair
    pair.standby.resume_replay()
